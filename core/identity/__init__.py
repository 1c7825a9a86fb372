"""Accounts, roles, assignments, passwords and access tokens (the built-in identity provider)."""

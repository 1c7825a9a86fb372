"""Alembic migrations of the dossier schema (shipped inside the distribution)."""

"""Envelope encryption of personal data (docs/design.md).

A data encryption key (DEK) per subject seals every field with AES-256-GCM; DEKs are wrapped by a
versioned key-encryption key (KEK) held by a key provider; blind indexes use their own HMAC key.
"""

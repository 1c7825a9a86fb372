"""Envelope encryption of personal data (DESIGN.md section 6).

A data encryption key (DEK) per subject seals every field with AES-256-GCM; DEKs are wrapped by a
versioned key-encryption key (KEK) held by a key provider; blind indexes use their own HMAC key.
"""

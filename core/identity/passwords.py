"""Password hashing for local accounts (argon2id)."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

MIN_LENGTH = 12


@functools.cache
def _dummy_hash() -> str:
    # Verified against when the account does not exist, so that a wrong username costs as much
    # time as a wrong password and does not reveal which accounts exist.
    return _hasher.hash("dossier-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; always spends one argon2 verification."""
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False

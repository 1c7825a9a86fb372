"""Blind indexes: keyed HMAC-SHA256 of normalised identifiers, for exact lookups.

The key is separate from every KEK, so the index reveals equality only to holders of that key.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum


class IndexKind(StrEnum):
    NATIONAL_ID = "national_id"
    EMAIL = "email"


def normalise(kind: IndexKind, value: str) -> str:
    """The canonical form two spellings of one identifier share."""
    if kind is IndexKind.NATIONAL_ID:
        return "".join(ch for ch in value if ch.isdigit())
    return value.strip().casefold()


def blind_index(key: bytes, kind: IndexKind, value: str) -> bytes:
    """HMAC-SHA256 over the kind and the normalised value."""
    message = f"{kind.value}|{normalise(kind, value)}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()

"""Standard Webhooks (https://www.standardwebhooks.com): signing what the service sends and
verifying what channel integrations send it. One module for both directions, so that the two ends
cannot read the specification differently.

A message carries ``webhook-id``, ``webhook-timestamp`` (seconds since the epoch) and
``webhook-signature``: space-separated ``version,base64`` signatures of
``{webhook-id}.{webhook-timestamp}.{body}``; ``v1`` is HMAC-SHA256 with a shared secret (written
``whsec_`` and base64), ``v1a`` Ed25519. Several signatures let a sender or a receiver change
secrets without a gap: one that verifies is enough.

Secrets are derived from a keyring key (HMAC of a label, the owner's id and a generation number),
so nothing secret is kept in the database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Sequence
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SECRET_PREFIX = "whsec_"
# How far a message's timestamp may be from the receiver's clock, either way (the specification's
# reference libraries use five minutes): an older message is a replay, a later one a wrong clock.
DEFAULT_TOLERANCE_SECONDS = 300
# A webhook-id is the sender's; it is kept (for de-duplication), so it is bounded and plain.
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9._:~+/=-]{1,200}\Z")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}\Z")
_MAX_SIGNATURES = 16


class Headers(Protocol):
    """What is read of a request's headers (a dict, or Werkzeug's case-insensitive Headers)."""

    def get(self, key: str) -> str | None: ...


class SignatureRefused(ValueError):
    """A message that is not signed as it must be; ``reason`` names why (never a header's value)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def derive_secret(master: bytes, label: str, owner: str, generation: int) -> bytes:
    """The shared secret of ``owner`` (an endpoint, a client) at ``generation``, derived from ``master``."""
    return hmac.new(master, f"dossier/{label}/v1|{owner}|{generation}".encode(), hashlib.sha256).digest()


def secret_text(secret: bytes) -> str:
    """A secret as the other end writes it in its configuration (``whsec_`` and base64)."""
    return SECRET_PREFIX + base64.b64encode(secret).decode()


def signed_content(message_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{message_id}.{timestamp}.".encode() + body


def signature_header(message_id: str, timestamp: int, body: bytes, *, ed25519: Ed25519PrivateKey | None = None,
                     secrets: Sequence[bytes] = ()) -> str:
    """The ``webhook-signature`` value: a ``v1a`` signature with ``ed25519`` and a ``v1`` one per secret."""
    content = signed_content(message_id, timestamp, body)
    signatures = []
    if ed25519 is not None:
        signatures.append("v1a," + base64.b64encode(ed25519.sign(content)).decode())
    for secret in secrets:
        signatures.append("v1," + base64.b64encode(_mac(secret, content)).decode())
    return " ".join(signatures)


def verify(headers: Headers, body: bytes, secrets: Sequence[bytes], *, now: float,
           tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> str:
    """The ``webhook-id`` of a message whose ``v1`` signature one of ``secrets`` verifies over the
    raw ``body``, sent within ``tolerance`` seconds of ``now``; SignatureRefused otherwise.

    Nothing here raises anything else whatever the headers hold (non-ASCII bytes, odd base64,
    thousands of signatures): each comparison is of bytes, in constant time.
    """
    message_id = _header(headers, "webhook-id")
    timestamp_text = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if message_id is None or timestamp_text is None or signatures is None:
        raise SignatureRefused("missing_headers")
    if not _MESSAGE_ID.match(message_id):
        raise SignatureRefused("bad_message_id")
    if not _TIMESTAMP.match(timestamp_text):
        raise SignatureRefused("bad_timestamp")
    timestamp = int(timestamp_text)
    if abs(now - timestamp) > tolerance:
        raise SignatureRefused("timestamp_outside_tolerance")
    content = signed_content(message_id, timestamp, body)
    expected = [_mac(secret, content) for secret in secrets]
    found = False
    for signature in signatures.split(" ")[:_MAX_SIGNATURES]:
        version, _, encoded = signature.partition(",")
        if version != "v1":
            continue  # another scheme (v1a), or a later version this receiver does not know
        given = _decoded(encoded)
        for mac in expected:
            # Every pair is compared, so the time taken says nothing of which one matched.
            found |= hmac.compare_digest(mac, given)
    if not found:
        raise SignatureRefused("no_valid_signature")
    return message_id


def _mac(secret: bytes, content: bytes) -> bytes:
    return hmac.new(secret, content, hashlib.sha256).digest()


def _header(headers: Headers, name: str) -> str | None:
    """A header as text made only of printable ASCII, or None: what a client sent in other bytes
    is no valid signature, never an error."""
    value = headers.get(name)
    if value is None:
        return None
    value = value.strip()
    if not value or not value.isascii() or not value.isprintable():
        return None
    return value


def _decoded(encoded: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return b""

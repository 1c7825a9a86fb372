"""Consent receipts: the fields of ISO/IEC 27560 and the Kantara consent receipt, signed as a JWS.

A receipt is what the seeker keeps as proof of what they agreed to or withdrew: which controller,
which purpose and categories, on what legal basis, under which exact notice (its hash), when,
through which channel, and until when. It names the subject by reference only.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from joserfc import jws
from joserfc.jwk import KeySet

from consent.store import CatalogueEntry
from core.identity.signing import SIGNING_ALGORITHM, KeyUse, SigningKeys
from core.models import iso_utc

RECEIPT_VERSION = "dossier-consent-receipt/1"
RECEIPT_TYPE = "consent-receipt+jws"


class InvalidReceipt(Exception):
    """The receipt's signature or format does not verify."""


def receipt_payload(
    *,
    receipt_id: str,
    entry: CatalogueEntry,
    notice_version: int,
    notice_sha256: str,
    subject_ref: str,
    state: str,
    at: datetime,
    expires_at: datetime | None,
    channel: str,
    recorded_by: str,
    recorded_by_role: str,
    controller: dict[str, str],
) -> dict[str, Any]:
    return {
        "version": RECEIPT_VERSION,
        "receipt_id": receipt_id,
        "timestamp": iso_utc(at),
        "jurisdiction": "BE",
        "controller": controller,
        "subject_ref": subject_ref,
        "purpose": entry.name,
        "categories": list(entry.categories),
        "recipients": list(entry.recipients),
        "legal_basis": entry.legal_basis,
        "retention_days": entry.retention_days,
        "notice": {"version": notice_version, "sha256": notice_sha256},
        "state": state,
        "expires_at": iso_utc(expires_at) if expires_at else None,
        "collection_method": channel,
        # An advisor who records a consent given in person is named; the act is the seeker's.
        "recorded_by": {"role": recorded_by_role, "account": recorded_by},
    }


def sign_receipt(keys: SigningKeys, payload: dict[str, Any]) -> str:
    key = keys.key(KeyUse.RECEIPT)
    header = {"alg": SIGNING_ALGORITHM, "kid": key.kid, "typ": RECEIPT_TYPE, "cty": "application/json"}
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    return jws.serialize_compact(header, body, key, algorithms=[SIGNING_ALGORITHM])


def verify_receipt(token: str, public_keys: KeySet) -> dict[str, Any]:
    """The receipt's payload if its signature verifies with one of ``public_keys``."""
    try:
        compact = jws.deserialize_compact(token, public_keys, algorithms=[SIGNING_ALGORITHM])
    except Exception as exc:  # joserfc raises several error types for bad input
        raise InvalidReceipt("signature or format") from exc
    payload: dict[str, Any] = json.loads(compact.payload)
    return payload

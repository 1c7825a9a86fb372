"""Consent receipts: the fields of ISO/IEC 27560 and the Kantara consent receipt, signed as a JWS.

A receipt is what the seeker keeps as proof of what they agreed to or withdrew: which controller,
which purpose and categories, on what legal basis, under which exact notice (its hash), when,
through which channel, and until when. It names the subject by reference only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Controller:
    name: str
    contact: str


@dataclass(frozen=True, slots=True)
class NoticeReference:
    version: int
    sha256: str


@dataclass(frozen=True, slots=True)
class RecordedBy:
    role: str
    account: str


@dataclass(frozen=True, slots=True)
class Receipt:
    """A consent receipt as the API answers it: its signed payload's fields, and the signature."""

    version: str
    receipt_id: str
    timestamp: datetime
    jurisdiction: str
    controller: Controller
    subject_ref: str
    purpose: str
    categories: list[str]
    recipients: list[str]
    legal_basis: str
    retention_days: int
    notice: NoticeReference
    state: str
    expires_at: datetime | None
    collection_method: str
    recorded_by: RecordedBy
    jws: str
    # For a consent given per request (employer.contact): the contact request it answers.
    contact_request: str | None = None

    @classmethod
    def of(cls, payload: dict[str, Any], jws: str) -> Receipt:
        """The receipt whose signed payload is ``payload``."""
        expires = payload["expires_at"]
        return cls(
            payload["version"], payload["receipt_id"], datetime.fromisoformat(payload["timestamp"]), payload["jurisdiction"],
            Controller(**payload["controller"]), payload["subject_ref"], payload["purpose"], list(payload["categories"]),
            list(payload["recipients"]), payload["legal_basis"], payload["retention_days"], NoticeReference(**payload["notice"]),
            payload["state"], datetime.fromisoformat(expires) if expires else None, payload["collection_method"],
            RecordedBy(**payload["recorded_by"]), jws, payload.get("contact_request"),
        )


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
    recipients: tuple[str, ...] | None = None,
    contact_request: str | None = None,
) -> dict[str, Any]:
    """The receipt's payload. ``recipients`` names who receives the data when that is narrower than
    the purpose says (the one employer of a contact request, ``contact_request`` its id)."""
    payload = {
        "version": RECEIPT_VERSION,
        "receipt_id": receipt_id,
        "timestamp": iso_utc(at),
        "jurisdiction": "BE",
        "controller": controller,
        "subject_ref": subject_ref,
        "purpose": entry.name,
        "categories": list(entry.categories),
        "recipients": list(recipients if recipients is not None else entry.recipients),
        "legal_basis": entry.legal_basis,
        "retention_days": entry.retention_days,
        "notice": {"version": notice_version, "sha256": notice_sha256},
        "state": state,
        "expires_at": iso_utc(expires_at) if expires_at else None,
        "collection_method": channel,
        # An advisor who records a consent given in person is named; the act is the seeker's.
        "recorded_by": {"role": recorded_by_role, "account": recorded_by},
    }
    if contact_request is not None:
        payload["contact_request"] = contact_request
    return payload


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

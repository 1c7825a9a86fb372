"""What an evidence document carries, and how it is checked: its entries as JSON, signed as a JWS
with the instance's evidence key (Ed25519, published in the JWKS), embedded in the document (a PDF
attachment, or a script element of the HTML page) beside the same JSON in clear for machines.

Nothing here touches the database: ``core.evidence.service`` registers and looks documents up.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from joserfc import jws
from joserfc.jwk import KeySet

from core.identity.signing import SIGNING_ALGORITHM as ALGORITHM
from core.identity.signing import KeyUse, SigningKeys

DOCUMENT_TYPE = "dossier.evidence/v1"
JWS_TYPE = "evidence+jws"
PDF = "application/pdf"
HTML = "text/html"
# The names of what a PDF carries as attached files (PDF/A-3), and the ids of the HTML's scripts.
JSON_NAME, JWS_NAME = "evidence.json", "evidence.jws"
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: it is read aloud and typed
_HTML_SCRIPT = re.compile(rb'<script type="application/(json|jose)" id="evidence-(json|jws)">(.*?)</script>', re.DOTALL)


class NotEvidence(ValueError):
    """Not a document of this service, or one whose embedded signature does not verify."""


@dataclass(frozen=True)
class Entry:
    """One activity as the document lists it."""

    id: str
    kind: str
    occurred_at: datetime
    description: str
    organisation: str | None = None
    outcome: str | None = None

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "occurred_at": self.occurred_at.isoformat(), "description": self.description,
                "organisation": self.organisation, "outcome": self.outcome}


def new_code() -> str:
    """A short code of 12 characters (60 bits) in three groups, printed on the document."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normal_code(code: str) -> str | None:
    """``code`` as it is kept (upper case, grouped), or None when it cannot be one."""
    raw = re.sub(r"[\s-]", "", code.upper())[:40]
    if len(raw) != 12 or any(c not in _CODE_ALPHABET for c in raw):
        return None
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def payload(evidence_id: str, code: str, issuer: str, issued_at: datetime, period: tuple[date, date], holder: str,
            entries: list[Entry], generated_by: str) -> dict[str, Any]:
    return {
        "type": DOCUMENT_TYPE, "id": evidence_id, "code": code, "issuer": issuer,
        "issued_at": issued_at.isoformat(), "period": {"from": period[0].isoformat(), "to": period[1].isoformat()},
        "holder": {"name": holder}, "generated_by": generated_by, "entries": [e.json() for e in entries],
    }


def sign(keys: SigningKeys, content: dict[str, Any]) -> tuple[str, str]:
    """The JWS (compact) of ``content`` with the evidence key, and that key's id."""
    key = keys.key(KeyUse.EVIDENCE)
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": JWS_TYPE, "cty": "application/json"}
    body = canonical(content)
    return jws.serialize_compact(header, body, key, algorithms=[ALGORITHM]), str(key.kid)


def canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def digest(document: bytes) -> str:
    return hashlib.sha256(document).hexdigest()


def verify_embedded(document: bytes, public_keys: KeySet) -> dict[str, Any]:
    """The signed content embedded in ``document`` (a PDF or an HTML page of this service), if its
    signature verifies with one of ``public_keys`` and the JSON in clear beside it says the same;
    NotEvidence otherwise."""
    embedded = _embedded(document)
    if JWS_NAME not in embedded:
        raise NotEvidence("no signed evidence in the document")
    try:
        compact = jws.deserialize_compact(embedded[JWS_NAME].strip(), public_keys, algorithms=[ALGORITHM])
        content: dict[str, Any] = json.loads(compact.payload)
    except Exception as exc:  # joserfc raises several error types for bad input
        raise NotEvidence("the embedded signature does not verify") from exc
    if compact.headers().get("typ") != JWS_TYPE or content.get("type") != DOCUMENT_TYPE:
        raise NotEvidence("not an evidence document")
    clear = embedded.get(JSON_NAME)
    try:
        same = clear is not None and json.loads(clear) == content
    except ValueError:
        same = False
    if not same:
        raise NotEvidence("the entries in clear differ from the signed ones")
    return content


def _embedded(document: bytes) -> dict[str, bytes]:
    """What a document carries: its attached files (PDF) or its evidence scripts (HTML)."""
    if document.startswith(b"%PDF-"):
        from pypdf import PdfReader  # only where a PDF is checked
        from pypdf.errors import PyPdfError

        try:
            attachments = PdfReader(io.BytesIO(document)).attachments
            return {name: contents[0] for name, contents in attachments.items() if name in (JSON_NAME, JWS_NAME) and contents}
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise NotEvidence("not a readable PDF") from exc
    found: dict[str, bytes] = {}
    for _kind, name, content in _HTML_SCRIPT.findall(document):
        found[JSON_NAME if name == b"json" else JWS_NAME] = content.replace(b"<\\/", b"</")
    return found

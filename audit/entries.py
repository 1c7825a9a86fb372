"""Audit entries: what is recorded of each decision, and its canonical bytes.

NOTE: an entry holds references and names only (account ids, the subject's pseudonymous id,
action, purposes, category names, decision and reason, request id); never a value of a dossier.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.models import iso_utc

ENTRY_VERSION = 1


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime
    actor_id: str | None
    actor_role: str | None
    client_id: str | None
    subject_ref: str | None
    action: str
    purposes: tuple[str, ...]
    categories: tuple[str, ...]
    decision: str  # "allow" or "deny"
    reason: str
    request_id: str | None

    def canonical(self) -> bytes:
        """The exact bytes that are hashed into the tree: sorted keys, no spaces, UTF-8."""
        document = {
            "v": ENTRY_VERSION,
            "at": iso_utc(self.at),
            "actor": {"id": self.actor_id, "role": self.actor_role, "client": self.client_id},
            "subject": self.subject_ref,
            "action": self.action,
            "purposes": list(self.purposes),
            "categories": sorted(self.categories),
            "decision": self.decision,
            "reason": self.reason,
            "request_id": self.request_id,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse(canonical: bytes) -> dict[str, Any]:
    """An entry's fields, from the bytes that verification covers."""
    document: dict[str, Any] = json.loads(canonical)
    return document

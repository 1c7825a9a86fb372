"""Audit entries: what is recorded of each decision, and its canonical bytes.

NOTE: an entry holds references and names only (account ids, the subject's pseudonymous id,
action, purposes, category names, decision and reason, request id); never a value of a dossier.

An entry is written twice: as the request records it (``Entry.canonical``, into the queue, in the
request's own transaction), and as the sequencer puts it in the tree (``leaf_bytes``): an entry
about a subject then also carries its place in that subject's chain, ``{"n": how many entries
about the subject came before it, "prev": the leaf index of the last of them}``. The tree's root
commits to every chain, so the seeker can prove their list complete (docs/audit.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.models import as_utc

# 1: the first format; 2: the time always with microseconds, and the subject's chain in the leaf.
ENTRY_VERSION = 2


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
        """The entry as the request records it: sorted keys, no spaces, UTF-8."""
        return dump({
            "v": ENTRY_VERSION,
            "at": entry_time(self.at),
            "actor": {"id": self.actor_id, "role": self.actor_role, "client": self.client_id},
            "subject": self.subject_ref,
            "action": self.action,
            "purposes": list(self.purposes),
            "categories": sorted(self.categories),
            "decision": self.decision,
            "reason": self.reason,
            "request_id": self.request_id,
        })


@dataclass(frozen=True, slots=True)
class Chain:
    """An entry's place among the entries about its subject."""

    n: int
    prev: int | None


def entry_time(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds always written, so that every instant has one spelling."""
    return as_utc(moment).isoformat(timespec="microseconds")


def dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse(canonical: bytes) -> dict[str, Any]:
    """An entry's fields, from the bytes that verification covers."""
    document: dict[str, Any] = json.loads(canonical)
    return document


def leaf_bytes(document: dict[str, Any], chain: Chain | None) -> bytes:
    """The exact bytes hashed into the tree: the queued entry, in this format, with its chain."""
    document["v"] = ENTRY_VERSION
    if chain is not None:
        document["chain"] = {"n": chain.n, "prev": chain.prev}
    return dump(document)

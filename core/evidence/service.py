"""Making and checking evidence documents.

``generate`` is a read of the seeker's activities (and name) through the decision point, recorded
as ``dossier:evidence:generate``, allowed to the seeker and, under ``activity.advisor_access``, to
their assigned advisor. It signs the chosen entries, renders the document and registers its
digest, in one transaction: a document exists only if its generation was audited.

``verify`` says whether a document is one this instance issued, byte for byte (its SHA-256 in the
register) and with a signature that verifies (the JWS it embeds, with the instance's evidence
keys, retired ones included); ``lookup`` what a short code stands for. Both answer only what the
document is: its period, its number of entries, when it was issued, never who it is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from core.access import authorize
from core.categories import ACTIVITY
from core.dossier import records, store as dossier_store
from core.dossier.records import RecordKind
from core.errors import InvalidInput
from core.evidence import document, render, store
from core.evidence.document import Entry, NotEvidence
from core.identity.roles import Actor, Role
from core.identity.signing import KeyUse
from core.models import as_utc, new_id
from core.policy import Action
from core.runtime import Runtime

MAX_PERIOD_DAYS = 366
MAX_ENTRIES = 500


@dataclass(frozen=True)
class Generated:
    content: bytes
    media_type: str
    filename: str
    code: str


@dataclass(frozen=True)
class Verification:
    """The answer to "is this document authentic and unaltered?"."""

    authentic: bool
    reason: str | None = None
    evidence_id: str | None = None
    code: str | None = None
    issued_at: str | None = None
    period: dict[str, str] | None = None
    entries: int | None = None
    media_type: str | None = None


def generate(rt: Runtime, actor: Actor, subject_id: str, period: tuple[date, date], chosen: list[str] | None,
             media_type: str) -> Generated:
    """The seeker's attestation for ``period``, with the activities ``chosen`` (all of the period's by default)."""
    _check_period(period)
    with rt.transaction() as conn:
        now = rt.clock()
        access = authorize(conn, actor, Action.EVIDENCE_GENERATE, subject_id, ACTIVITY | {"identity.name"}, now=now)
        sealed = dossier_store.load_sealed(conn, subject_id, access.decision.categories)
    # NOTE: opened, signed and rendered (a PDF takes most of a second) outside the transaction, so
    # that SQLite's writer lock is not held meanwhile; the document is returned only once registered.
    opened = dossier_store.open_sealed(rt.sealer.cipher(subject_id, access.key), sealed)
    entries = _entries(opened, period, chosen)
    holder = next((r.values.get("name") for r in opened if r.kind == RecordKind.IDENTITY), None) or "—"
    evidence_id, code = new_id(), document.new_code()
    content = document.payload(evidence_id, code, rt.settings.PUBLIC_URL.rstrip("/"), now, period, holder, entries,
                               "seeker" if actor.role is Role.SEEKER else "advisor")
    signed, kid = document.sign(rt.signing, content)
    page = render.html(content, signed, kid)
    made = render.pdf(page, content, signed) if media_type == document.PDF else page
    with rt.transaction() as conn:
        store.register(conn, id=evidence_id, code=code, sha256=document.digest(made), media_type=media_type, issued_at=now,
                       period_from=period[0], period_to=period[1], entry_count=len(entries), kid=kid)
    extension = "pdf" if media_type == document.PDF else "html"
    return Generated(made, media_type, f"attestation-{period[0].isoformat()}-{period[1].isoformat()}.{extension}", code)


def verify(rt: Runtime, candidate: bytes) -> Verification:
    """Whether ``candidate`` is a document this instance issued, unaltered."""
    with rt.engine.connect() as conn:
        row = store.by_digest(conn, document.digest(candidate))
    if row is None:
        return Verification(False, "unknown_document")  # altered, or issued elsewhere, or never
    try:
        content = document.verify_embedded(candidate, rt.signing.public_keyset(KeyUse.EVIDENCE))
    except NotEvidence:
        return Verification(False, "bad_signature")
    if content.get("id") != row.id:
        return Verification(False, "bad_signature")
    return _described(row, True)


def lookup(rt: Runtime, code: str) -> list[Verification]:
    """The documents issued under a short code (one per rendering), or none."""
    normal = document.normal_code(code)
    if normal is None:
        return []
    with rt.engine.connect() as conn:
        return [_described(row, True) for row in store.by_code(conn, normal)]


def _described(row: Any, authentic: bool) -> Verification:
    return Verification(authentic, None, row.id, row.code, as_utc(row.issued_at).isoformat(),
                        {"from": row.period_from.isoformat(), "to": row.period_to.isoformat()}, row.entry_count, row.media_type)


def _check_period(period: tuple[date, date]) -> None:
    start, end = period
    if end < start:
        raise InvalidInput("La période finit avant de commencer / the period ends before it starts.", field="to")
    if end - start > timedelta(days=MAX_PERIOD_DAYS):
        raise InvalidInput(f"Une période de {MAX_PERIOD_DAYS} jours au plus / a period of at most {MAX_PERIOD_DAYS} days.",
                           field="to")


def _entries(opened: list[records.OpenedRecord], period: tuple[date, date], chosen: list[str] | None) -> list[Entry]:
    """The activities of the period, in date order; only ``chosen`` ones when given (each must be one)."""
    activities = [records.activity_of(r) for r in opened if r.kind == RecordKind.ACTIVITY]
    in_period = {a.id: a for a in activities if period[0] <= a.occurred_at.date() <= period[1]}
    if chosen is not None:
        unknown = [entry_id for entry_id in chosen if entry_id not in in_period]
        if unknown:
            raise InvalidInput("Des démarches choisies ne sont pas de cette période / some chosen entries are not of this period.",
                               field="entries", count=len(unknown))
        picked = [in_period[entry_id] for entry_id in dict.fromkeys(chosen)]
    else:
        picked = list(in_period.values())
    if len(picked) > MAX_ENTRIES:
        raise InvalidInput(f"{MAX_ENTRIES} démarches au plus par attestation / at most {MAX_ENTRIES} entries per document.",
                           field="entries")
    picked.sort(key=lambda a: (a.occurred_at, a.id))
    return [Entry(a.id, a.kind, a.occurred_at, a.description, a.organisation, a.outcome) for a in picked]

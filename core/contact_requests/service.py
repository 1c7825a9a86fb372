"""Contact requests, double opt-in: one function per user action, one transaction each.

An employer asks to contact a candidate one of its searches showed (by the ``candidate_ref`` it
knows them by), with a message; the seeker sees the request and the employer's name, and accepts or
refuses. Only an acceptance gives that employer, for that request, the seeker's name and contact
details: a consent to ``employer.contact`` with its signed receipt, which the seeker can withdraw.
A pending request expires after ``CONTACT_REQUEST_TTL_DAYS``; an employer has one open request per
candidate and ``CONTACT_REQUESTS_PER_DAY`` in 24 hours. Every step is decided and audited; the
seeker's answers are events for the plugins (``dossier_contact_request_decided``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from consent import service as consent_service
from consent.purposes import Purpose
from consent.receipts import Receipt
from consent.store import catalogue
from core.access import authorize, authorize_as, require_employer_reader, require_employer_user
from core.contact_requests import store
from core.dossier import records, store as dossier_store
from core.errors import Conflict, NotFound, TooManyRequests
from core.identity.roles import Actor
from core.models import as_utc, new_id
from core.plugins import outbox
from core.plugins.gateway import PluginGateway
from core.policy import Action, Relation
from core.runtime import Runtime

MESSAGE_RECORD = "contact_request"
CONTACT_CATEGORIES = frozenset({"identity.name", "identity.contact"})


@dataclass(frozen=True, slots=True)
class ContactDetails:
    email: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class ContactRequest:
    """A request as one reader sees it: the employer (its name for the seeker), the state (``expired``
    for a pending one past its time), and for the employer the contact details once accepted."""

    id: str
    employer_id: str
    employer_name: str
    candidate_ref: str
    state: str
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None = None
    message: str | None = None
    receipt_id: str | None = None
    name: str | None = None
    contact: ContactDetails | None = None


@dataclass(frozen=True, slots=True)
class Decided:
    """The seeker's answer, and the receipt of the consent it gave or withdrew (none for a refusal)."""

    request: ContactRequest
    receipt: Receipt | None


# -- the employer's side ------------------------------------------------------------------------


def send(rt: Runtime, actor: Actor, employer_id: str, candidate_ref: str, message: str) -> ContactRequest:
    require_employer_user(actor, employer_id)
    now = rt.clock()
    with rt.transaction() as conn:
        subject_id = store.shown_subject(conn, employer_id, candidate_ref)
        if subject_id is None:
            raise NotFound("Candidat inconnu / unknown candidate.", field="candidate_ref")
        if store.sent_since(conn, employer_id, now - timedelta(days=1)) >= rt.settings.CONTACT_REQUESTS_PER_DAY:
            raise TooManyRequests("Limite quotidienne de demandes de contact atteinte / daily limit of contact requests reached.")
        # Only while the seeker is still published; a refusal answers 404 and says nothing of why.
        allowed = authorize_as(conn, actor, Action.CONTACT_REQUEST_SEND, Relation.SEARCHING_EMPLOYER, subject_id,
                               frozenset(), frozenset(), now=now, consent=Purpose.PROFILE_MATCHING.value)
        if store.open_request(conn, employer_id, subject_id, now) is not None:
            raise Conflict("Une demande à ce candidat attend déjà sa réponse / a request to this candidate is already pending.")
        request_id = new_id()
        sealed = rt.sealer.cipher(subject_id, allowed.key).seal(MESSAGE_RECORD, request_id, message.encode())
        store.insert_request(conn, {
            "id": request_id, "employer_id": employer_id, "account_id": actor.account_id, "subject_id": subject_id,
            "candidate_ref": candidate_ref, "message": sealed, "state": "pending", "created_at": now,
            "expires_at": now + timedelta(days=rt.settings.CONTACT_REQUEST_TTL_DAYS),
        })
        row = store.request_of_employer(conn, employer_id, request_id)
    return _request(row, now, message=message)


def employer_requests(rt: Runtime, actor: Actor, employer_id: str, limit: int = 100) -> list[ContactRequest]:
    """The employer's requests, newest first: for its users, and for the advisors it is assigned to
    (the same: states and times, never the message or a seeker's details)."""
    now = rt.clock()
    with rt.engine.connect() as conn:
        require_employer_reader(conn, actor, employer_id)
        rows = store.requests_of_employer(conn, employer_id, limit)
    return [_request(row, now) for row in rows]


def employer_request(rt: Runtime, actor: Actor, employer_id: str, request_id: str) -> ContactRequest:
    """One request of the employer; to its users, once the seeker accepted (and while that stands),
    the name and contact details the seeker gave: that read is decided and audited."""
    require_employer_user(actor, employer_id)
    now = rt.clock()
    with rt.transaction() as conn:
        row = store.request_of_employer(conn, employer_id, request_id)
        if row is None:
            raise NotFound()
        if _state(row, now) != "accepted" or not _consent_stands(conn, row, now):
            return _request(row, now)
        allowed = authorize_as(conn, actor, Action.CONTACT_DETAILS_READ, Relation.CONTACTED_EMPLOYER, row.subject_id,
                               frozenset({Purpose.EMPLOYER_CONTACT.value}), CONTACT_CATEGORIES, now=now)
        sealed = dossier_store.load_sealed(conn, row.subject_id, allowed.decision.categories)
    opened = dossier_store.open_sealed(rt.sealer.cipher(row.subject_id, allowed.key), sealed)
    identity = records.sections(opened, allowed.decision.categories).identity or records.Identity()
    return _request(row, now, name=identity.name, contact=ContactDetails(identity.email, identity.phone))


# -- the seeker's side --------------------------------------------------------------------------


def seeker_requests(rt: Runtime, actor: Actor, subject_id: str) -> list[ContactRequest]:
    """The seeker's requests, pending and past, newest first, with each employer's name and message."""
    now = rt.clock()
    with rt.transaction() as conn:
        allowed = authorize(conn, actor, Action.CONTACT_REQUESTS_READ, subject_id, (), now=now)
        rows = store.requests_of_subject(conn, subject_id)
    cipher = rt.sealer.cipher(subject_id, allowed.key)
    return [_request(row, now, message=cipher.open(MESSAGE_RECORD, row.id, row.message).decode()) for row in rows]


def accept(rt: Runtime, plugins: PluginGateway, actor: Actor, subject_id: str, request_id: str) -> Decided:
    return _answer(rt, plugins, actor, subject_id, request_id, "pending", "accepted")


def refuse(rt: Runtime, plugins: PluginGateway, actor: Actor, subject_id: str, request_id: str) -> Decided:
    return _answer(rt, plugins, actor, subject_id, request_id, "pending", "refused")


def withdraw(rt: Runtime, plugins: PluginGateway, actor: Actor, subject_id: str, request_id: str) -> Decided:
    """Take back an acceptance: that employer no longer reads the name and contact details."""
    return _answer(rt, plugins, actor, subject_id, request_id, "accepted", "withdrawn")


# -- internals ----------------------------------------------------------------------------------


def _answer(rt: Runtime, plugins: PluginGateway, actor: Actor, subject_id: str, request_id: str, was: str,
            state: str) -> Decided:
    now = rt.clock()
    with rt.transaction() as conn:
        allowed = authorize(conn, actor, Action.CONTACT_REQUEST_DECIDE, subject_id, (), now=now)
        row = store.request_of_subject(conn, subject_id, request_id, lock=True)
        if row is None:
            raise NotFound()
        current = _state(row, now)
        if current != was:
            raise Conflict(f"Cette demande est « {current} » / this request is {current}.", state=current)
        receipt = None
        if state != "refused":
            consent_state = "granted" if state == "accepted" else "withdrawn"
            receipt = consent_service.record_per_request(rt, conn, actor, subject_id, Purpose.EMPLOYER_CONTACT.value,
                                                         consent_state, f"{row.employer_name} ({row.employer_id})", request_id)
        receipt_id = receipt.receipt_id if receipt is not None else row.receipt_id
        if not store.decide(conn, request_id, state, was, now, receipt_id):
            raise Conflict("Cette demande vient de changer / this request has just changed.")
        if state != "withdrawn":
            outbox.emit(rt, plugins, conn, outbox.Event.CONTACT_REQUEST_DECIDED, subject_id,
                        payload=outbox.contact_request_payload(request_id, row.employer_id, state), request_id=actor.request_id)
        row = store.request_of_subject(conn, subject_id, request_id) or row
    message = rt.sealer.cipher(subject_id, allowed.key).open(MESSAGE_RECORD, request_id, row.message).decode()
    return Decided(_request(row, now, message=message), receipt)


def _consent_stands(conn: Any, row: Any, now: datetime) -> bool:
    """An acceptance gives the employer the details for the retention of ``employer.contact``."""
    (entry,) = catalogue(conn, Purpose.EMPLOYER_CONTACT.value)
    return row.decided_at is not None and as_utc(row.decided_at) + timedelta(days=entry.retention_days) > now


def _state(row: Any, now: datetime) -> str:
    if row.state == "pending" and as_utc(row.expires_at) <= now:
        return "expired"
    return str(row.state)


def _request(row: Any, now: datetime, *, message: str | None = None, name: str | None = None,
             contact: ContactDetails | None = None) -> ContactRequest:
    return ContactRequest(
        row.id, row.employer_id, row.employer_name, row.candidate_ref, _state(row, now), as_utc(row.created_at),
        as_utc(row.expires_at), as_utc(row.decided_at) if row.decided_at else None, message, row.receipt_id, name, contact,
    )

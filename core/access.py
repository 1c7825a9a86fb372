"""The one path of every decision: load the facts, ask the policy, record the decision, go on or refuse.

``authorize`` decides what a person (or a service client) may do to a subject's dossier;
``authorize_release`` what a plugin may receive of it. Both load their facts with the same
statement, ask the pure decision point (``core.policy``), and append the decision's audit entry,
allowed or denied, in the caller's transaction (invariant 2). ``record`` appends the entry of an
act that the rules do not decide (a purge confirmed, the log read by an auditor).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlalchemy.engine import Connection

from audit import store as audit_store
from audit.entries import Entry
from consent.store import live_consent_clause
from core.crypto.sealing import WrappedKey
from core.db import Prepared
from core.dossier.store import lock_subject_for_share, lock_subject_for_update, lock_subjects_for_share
from core.errors import AccessRefused, Forbidden, Gone, NotFound
from core.identity.roles import Actor, Role
from core.models import employer_assignments, seeker_assignments, subjects
from consent.purposes import Purpose
from core.policy import (
    READ_ACTIONS,
    Action,
    Decision,
    Facts,
    Relation,
    ReleaseFacts,
    consents_consulted,
    decide,
    decide_release,
    relation_of,
)


@dataclass(frozen=True, slots=True)
class Authorized:
    """An allowed access: the decision and the subject's wrapped data key."""

    decision: Decision
    key: WrappedKey


@dataclass(frozen=True, slots=True)
class PurposeFacts:
    """What the catalogue says of a purpose: its legal basis and categories (never changed under its name)."""

    legal_basis: str
    categories: frozenset[str]


@functools.cache
def _facts_statement(consents: tuple[str, ...], assignment: bool, for_update: bool) -> Prepared:
    """One statement: the subject's key, whether it is erased, the caller's assignment to it (for a
    person) and whether each of ``consents`` is live now."""
    columns: list[Any] = [subjects.c.wrapped_dek, subjects.c.kek_version, subjects.c.erased_at]
    if assignment:
        columns.append(exists().where(seeker_assignments.c.subject_id == subjects.c.id,
                                      seeker_assignments.c.advisor_id == bindparam("actor_id")))
    columns += [exists().where(live_consent_clause(subjects.c.id, purpose, bindparam("now"))).label(purpose)
                for purpose in consents]
    query = select(*columns).where(subjects.c.id == bindparam("subject_id"))
    # A person's write locks the subject's row (PostgreSQL; SQLite's write transaction already
    # holds the lock): an erasure or another write cannot slip between the decision and the write.
    return Prepared(query.with_for_update(of=subjects) if for_update else query)


def authorize(
    conn: Connection,
    actor: Actor,
    action: Action,
    subject_id: str,
    requested: Iterable[str] | None = None,
    *,
    now: datetime,
) -> Authorized:
    """Decide ``action`` on ``subject_id`` for ``actor``; raise unless it is allowed.

    Raises NotFound for an unknown subject, AccessRefused when the policy denies, and Gone when
    the subject was erased (only an actor related to the subject learns that). Whether the
    actor's account is open was checked when the request resolved its actor.
    """
    consents = consents_consulted(action)
    rows = _facts_statement(consents, True, action not in READ_ACTIONS).rows(
        conn, {"subject_id": subject_id, "now": now, "actor_id": actor.account_id})
    if not rows:
        raise NotFound()
    wrapped_dek, kek_version, erased_at, assigned, *consented = rows[0]
    live = frozenset(p for p, granted in zip(consents, consented, strict=True) if granted)
    decision = decide(actor, action, Facts(subject_id, relation_of(actor, subject_id, bool(assigned)), live), requested)
    # NOTE: invariant 2: the decision is recorded in this transaction, allowed or denied, before
    # anything is read or written; a refusal commits its record and nothing else.
    record(conn, actor, decision, now)
    if not decision:
        raise AccessRefused(decision)
    if erased_at is not None or wrapped_dek is None:
        raise Gone()
    return Authorized(decision, WrappedKey(kek_version, wrapped_dek))


def authorize_release(
    conn: Connection,
    plugin: Actor,
    declared: frozenset[str],
    subject_id: str,
    purpose: str,
    known: PurposeFacts | None,
    *,
    now: datetime,
) -> Authorized | None:
    """Decide what of ``declared`` (a plugin's categories) ``plugin`` may receive of ``subject_id``
    under ``purpose`` now; None when refused (the refusal is recorded) or the subject is unknown.

    ``known`` is what the catalogue says of the purpose (None when it is not in it).

    NOTE: invariant 3: a consent purpose releases nothing unless its consent is live now. The
    subject's row is locked for share first, in a statement of its own: a withdrawal (which holds
    it for update) has then committed or not begun, and the facts statement, with a fresh snapshot
    on PostgreSQL, sees its outcome.
    """
    lock_subject_for_share(conn, subject_id)
    rows = _facts_statement((purpose,), False, False).rows(conn, {"subject_id": subject_id, "now": now})
    if not rows:
        return None
    wrapped_dek, kek_version, erased_at, consent_live = rows[0]
    facts = ReleaseFacts(
        subject_id, purpose, known.legal_basis if known else None, known.categories if known else frozenset(),
        bool(consent_live), erased_at is not None or wrapped_dek is None,
    )
    decision = decide_release(declared, facts)
    record(conn, plugin, decision, now)
    return Authorized(decision, WrappedKey(kek_version, wrapped_dek)) if decision else None


def authorize_candidates(conn: Connection, employer: Actor, subject_ids: Sequence[str], categories: frozenset[str], *,
                         now: datetime) -> dict[str, Authorized]:
    """Decide, for every seeker a search ranked, whether ``employer`` may see ``categories`` of their
    published profile now: one statement loads the facts of them all, each decision is recorded
    (one batched append), and the allowed ones are returned with their wrapped keys.

    NOTE: invariant 3: a seeker whose ``profile.matching`` consent is not live now, or who is
    erased, is refused. As a release does, the seekers' rows are locked for share first, in a
    statement of its own: a withdrawal has then committed or not begun, and the facts statement,
    with a fresh snapshot on PostgreSQL, sees its outcome.
    """
    wanted = sorted(set(subject_ids))
    if not wanted:
        return {}
    lock_subjects_for_share(conn, wanted)
    purpose = Purpose.PROFILE_MATCHING.value
    query = (select(subjects.c.id, subjects.c.wrapped_dek, subjects.c.kek_version, subjects.c.erased_at,
                    exists().where(live_consent_clause(subjects.c.id, purpose, now)).label("consented"))
             .where(subjects.c.id.in_(wanted)))
    allowed: dict[str, Authorized] = {}
    entries = []
    for row in conn.execute(query).all():
        live = frozenset({purpose}) if row.consented and row.erased_at is None and row.wrapped_dek is not None else frozenset()
        decision = decide(employer, Action.CANDIDATE_SHOW, Facts(row.id, Relation.SEARCHING_EMPLOYER, live), categories)
        entries.append(entry_for(employer, decision, now))
        if decision:
            allowed[row.id] = Authorized(decision, WrappedKey(row.kek_version, row.wrapped_dek))
    audit_store.append_many(conn, entries)
    return allowed


def authorize_as(conn: Connection, actor: Actor, action: Action, relation: Relation, subject_id: str,
                 live_consents: frozenset[str], categories: frozenset[str], *, now: datetime,
                 consent: str | None = None) -> Authorized:
    """Decide ``action`` for an actor whose relation to the seeker the caller established itself
    (an employer shown the seeker, or whose contact request they accepted); raise unless allowed.

    ``consent`` names a purpose whose consent is loaded here (live now) and added to
    ``live_consents``. The seeker's row is locked for update for a write. A refusal is recorded and
    answered as 404: the employer learns nothing of why.
    """
    consents = (consent,) if consent else ()
    if action not in READ_ACTIONS:
        # Locked first, in a statement of its own: the facts statement then sees (with a fresh
        # snapshot on PostgreSQL) the outcome of a withdrawal that held the row.
        lock_subject_for_update(conn, subject_id)
    rows = _facts_statement(consents, False, False).rows(conn, {"subject_id": subject_id, "now": now})
    if not rows:
        raise NotFound()
    wrapped_dek, kek_version, erased_at, *consented = rows[0]
    live = live_consents | frozenset(p for p, granted in zip(consents, consented, strict=True) if granted)
    if erased_at is not None or wrapped_dek is None:
        live = frozenset()
    decision = decide(actor, action, Facts(subject_id, relation, live), categories)
    record(conn, actor, decision, now)
    if not decision:
        raise AccessRefused(dataclasses.replace(decision, visible=False))
    return Authorized(decision, WrappedKey(kek_version, wrapped_dek))


def require_employer_user(actor: Actor, employer_id: str) -> None:
    """Only a user of that employer; anyone else of the role, another employer's included, gets 404."""
    require_role(actor, Role.EMPLOYER)
    if actor.employer_id != employer_id:
        raise NotFound()


def require_employer_reader(conn: Connection, actor: Actor, employer_id: str) -> None:
    """A user of the employer, or an advisor it is assigned to (what the employer's searches and
    requests are, never a seeker's details); another advisor or employer gets 404."""
    if actor.role is Role.ADVISOR:
        assigned = conn.execute(select(employer_assignments.c.employer_id).where(
            employer_assignments.c.advisor_id == actor.account_id, employer_assignments.c.employer_id == employer_id)).first()
        if assigned is None:
            raise NotFound()
        return
    if actor.role is not Role.EMPLOYER:
        raise Forbidden()
    require_employer_user(actor, employer_id)


def record(conn: Connection, actor: Actor, decision: Decision, now: datetime) -> None:
    """Append the audit entry of ``decision`` in the caller's transaction."""
    audit_store.append(conn, entry_for(actor, decision, now))


def entry_for(actor: Actor, decision: Decision, now: datetime) -> Entry:
    """The audit entry of a decision: references and names, never a value."""
    return Entry(
        at=now,
        actor_id=actor.account_id or None,
        actor_role=actor.role.value,
        client_id=actor.client_id,
        subject_ref=decision.subject_id or None,
        action=decision.action.value,
        purposes=decision.purposes,
        categories=tuple(sorted(decision.categories)),
        decision="allow" if decision else "deny",
        reason=decision.reason,
        request_id=actor.request_id,
    )


def require_role(actor: Actor, *roles: Role) -> None:
    """For actions that name no subject: the role alone decides."""
    if actor.role not in roles:
        raise Forbidden()

"""Authorising one access: load the facts, ask the policy, and refuse or go on.

Every service that touches personal data calls ``authorize`` first, inside its transaction.
This is the one place where a decision is taken (and where the audit append belongs: the next
step of the design records each decision here, in the same transaction).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, exists, select
from sqlalchemy.engine import Connection

from core.crypto.sealing import WrappedKey
from core.db import Prepared
from core.errors import Forbidden, Gone, NotFound, Unauthenticated
from core.identity.checks import ACCOUNT_OPEN, account_parameters
from core.identity.roles import Actor, Role
from core.models import seeker_assignments, subjects
from audit import log as audit_log
from audit.entries import Entry, request_id_var
from consent.store import live_consent_clause
from core.policy import READ_ACTIONS, Action, Decision, Facts, consents_consulted, decide, relation_of


class AccessRefused(Exception):
    """The policy denied an access. ``decision`` says why; the HTTP layer maps it."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason)
        self.decision = decision


@dataclass(frozen=True, slots=True)
class Authorized:
    """An allowed access: the decision and the subject's wrapped data key."""

    decision: Decision
    key: WrappedKey


@functools.cache
def _facts_query(action: Action) -> Prepared:
    """One statement: the subject's key, the caller's assignment, and each consent the action consults."""
    assigned = exists().where(
        seeker_assignments.c.subject_id == subjects.c.id,
        seeker_assignments.c.advisor_id == bindparam("actor_id"),
    )
    consents = [
        exists().where(live_consent_clause(subjects.c.id, purpose, bindparam("now"))).label(purpose)
        for purpose in consents_consulted(action)
    ]
    query = select(
        subjects.c.wrapped_dek, subjects.c.kek_version, subjects.c.erased_at, ACCOUNT_OPEN, assigned, *consents
    ).where(subjects.c.id == bindparam("subject_id"))
    # A write locks the subject's row (PostgreSQL; SQLite's write transaction already holds the
    # lock): an erasure or another write cannot slip between this decision and the write.
    return Prepared(query if action in READ_ACTIONS else query.with_for_update(of=subjects))


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
    the subject was erased (only an actor related to the subject learns that).
    """
    parameters = {"subject_id": subject_id, "now": now, **account_parameters(actor)}
    rows = _facts_query(action).rows(conn, parameters)
    row = rows[0] if rows else None
    if row is None:
        if not conn.execute(_ACCOUNT_OPEN, parameters).scalar():
            raise Unauthenticated()
        raise NotFound()
    wrapped_dek, kek_version, erased_at, account_open, assigned, *consented = row
    # NOTE: the account is checked here, in the same statement as the facts: a closed account's
    # token is refused even where the HTTP layer left the check to this point.
    if not account_open:
        raise Unauthenticated()
    live = frozenset(p for p, granted in zip(consents_consulted(action), consented, strict=True) if granted)
    facts = Facts(subject_id, relation_of(actor, subject_id, bool(assigned)), live)
    decision = decide(actor, action, facts, requested)
    # NOTE: invariant 2: the decision is recorded in this transaction, allowed or denied, before
    # anything is read or written; a refusal commits its record and nothing else.
    audit_log.append(conn, entry_for(actor, decision, now))
    if not decision:
        raise AccessRefused(decision)
    if erased_at is not None or wrapped_dek is None:
        raise Gone()
    return Authorized(decision, WrappedKey(kek_version, wrapped_dek))


_ACCOUNT_OPEN = select(ACCOUNT_OPEN)


def entry_for(actor: Actor, decision: Decision, now: datetime) -> Entry:
    """The audit entry of a decision: references and names, never a value."""
    return Entry(
        at=now,
        actor_id=actor.account_id,
        actor_role=actor.role.value,
        client_id=actor.client_id,
        subject_ref=decision.subject_id,
        action=decision.action.value,
        purposes=decision.purposes,
        categories=tuple(sorted(decision.categories)),
        decision="allow" if decision else "deny",
        reason=decision.reason,
        request_id=request_id_var.get(),
    )


def require_role(actor: Actor, *roles: Role) -> None:
    """For actions that name no subject: the role alone decides."""
    if actor.role not in roles:
        raise Forbidden()

"""Authorising one access: load the facts, ask the policy, and refuse or go on.

Every service that touches personal data calls ``authorize`` first, inside its transaction.
This is the one place where a decision is taken (and where the audit append belongs: the next
step of the design records each decision here, in the same transaction).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.engine import Connection

from core.crypto.sealing import WrappedKey
from core.errors import Forbidden, Gone, NotFound
from core.identity.roles import Actor, Role
from core.models import seeker_assignments, subjects
from core.policy import Action, Decision, Facts, decide, relation_of


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


def _subject_query(subject_id: str, actor: Actor):  # type: ignore[no-untyped-def]
    assigned = exists().where(
        seeker_assignments.c.subject_id == subjects.c.id,
        seeker_assignments.c.advisor_id == actor.account_id,
    )
    return select(subjects.c.wrapped_dek, subjects.c.kek_version, subjects.c.erased_at, assigned).where(
        subjects.c.id == subject_id
    )


def authorize(
    conn: Connection,
    actor: Actor,
    action: Action,
    subject_id: str,
    requested: Iterable[str] | None = None,
) -> Authorized:
    """Decide ``action`` on ``subject_id`` for ``actor``; raise unless it is allowed.

    Raises NotFound for an unknown subject, AccessRefused when the policy denies, and Gone when
    the subject was erased (only an actor related to the subject learns that).
    """
    row = conn.execute(_subject_query(subject_id, actor)).first()
    if row is None:
        raise NotFound()
    wrapped_dek, kek_version, erased_at, assigned = row
    facts = Facts(subject_id=subject_id, relation=relation_of(actor, subject_id, bool(assigned)))
    decision = decide(actor, action, facts, requested)
    if not decision:
        raise AccessRefused(decision)
    if erased_at is not None or wrapped_dek is None:
        raise Gone()
    return Authorized(decision, WrappedKey(kek_version, wrapped_dek))


def require_role(actor: Actor, *roles: Role) -> None:
    """For actions that name no subject: the role alone decides."""
    if actor.role not in roles:
        raise Forbidden()

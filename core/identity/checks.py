"""Is the actor's account still open? One SQL condition, shared by every place that asks.

A token stays valid until it expires, but closing an account (or erasing a seeker) must take
effect at once: every request checks the account (``core.identity.accounts.require_open_account``,
called by ``core.http.api.current_actor``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, exists

from core.identity.roles import Actor
from core.models import accounts

ACCOUNT_OPEN = exists().where(
    accounts.c.id == bindparam("actor_id"),
    accounts.c.role == bindparam("actor_role"),
    accounts.c.disabled_at.is_(None),
    accounts.c.subject_id.is_not_distinct_from(bindparam("actor_subject", type_=accounts.c.subject_id.type)),
    accounts.c.employer_id.is_not_distinct_from(bindparam("actor_employer", type_=accounts.c.employer_id.type)),
)


def account_parameters(actor: Actor) -> dict[str, Any]:
    """The values ACCOUNT_OPEN binds."""
    return {
        "actor_id": actor.account_id,
        "actor_role": actor.role.value,
        "actor_subject": actor.subject_id,
        "actor_employer": actor.employer_id,
    }

"""Storage of accounts, employers and caseload assignments (SQLAlchemy Core).

``ACCOUNT_OPEN`` is the one condition that says whether an actor's account is still open: a token
stays valid until it expires, but closing an account (or erasing a seeker) takes effect at once,
because every request checks it (``core.http.api.current_actor``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, insert, select, update
from sqlalchemy.engine import Connection, Engine

from core.crypto.sealing import WrappedKey
from core.db import Prepared, single_read
from core.identity.roles import Actor, Role
from core.models import accounts, employer_assignments, employers, seeker_assignments, subjects

ACCOUNT_OPEN = exists().where(
    accounts.c.id == bindparam("actor_id"),
    accounts.c.role == bindparam("actor_role"),
    accounts.c.disabled_at.is_(None),
    accounts.c.subject_id.is_not_distinct_from(bindparam("actor_subject", type_=accounts.c.subject_id.type)),
    accounts.c.employer_id.is_not_distinct_from(bindparam("actor_employer", type_=accounts.c.employer_id.type)),
)
_ACCOUNT_OPEN = Prepared(select(ACCOUNT_OPEN))


def account_is_open(engine: Engine, actor: Actor) -> bool:
    """Whether the actor's account exists, is open, and has the role and links its token names.

    One prepared statement, outside any transaction: every request runs it, so no BEGIN or ROLLBACK
    round trips and none of SQLAlchemy's per-statement work.
    """
    with single_read(engine) as conn:
        rows = _ACCOUNT_OPEN.rows(conn, {"actor_id": actor.account_id, "actor_role": actor.role.value,
                                         "actor_subject": actor.subject_id, "actor_employer": actor.employer_id})
    return bool(rows and rows[0][0])


# -- employers and accounts --------------------------------------------------------------------


def employer_exists(conn: Connection, employer_id: str) -> bool:
    return conn.execute(select(employers.c.id).where(employers.c.id == employer_id)).first() is not None


def insert_employer(conn: Connection, employer_id: str, name: str, now: datetime) -> None:
    conn.execute(insert(employers).values(id=employer_id, name=name, created_at=now))


def username_taken(conn: Connection, username: str) -> bool:
    return conn.execute(select(accounts.c.id).where(accounts.c.username == username)).first() is not None


def insert_subject(conn: Connection, subject_id: str, key: WrappedKey, now: datetime) -> None:
    """A data subject and its wrapped data key (a seeker's; their records come at their first write)."""
    conn.execute(insert(subjects).values(id=subject_id, wrapped_dek=key.wrapped, kek_version=key.kek_version, created_at=now))


def insert_account(conn: Connection, **values: Any) -> None:
    conn.execute(insert(accounts).values(**values))


def open_account_named(conn: Connection, username: str) -> Any:
    """The open account ``username``, or None."""
    return conn.execute(select(accounts).where(accounts.c.username == username, accounts.c.disabled_at.is_(None))).first()


def account_by_id(conn: Connection, account_id: str) -> Any:
    return conn.execute(select(accounts).where(accounts.c.id == account_id)).one()


def person_signing_in(conn: Connection, username: str) -> Any:
    """The open account of a person named ``username`` (a service client never signs in with a password)."""
    return conn.execute(
        select(accounts.c.id, accounts.c.role, accounts.c.password_hash, accounts.c.subject_id, accounts.c.employer_id)
        .where(accounts.c.username == username, accounts.c.disabled_at.is_(None), accounts.c.role != Role.SERVICE.value)
    ).first()


def set_password_hash(conn: Connection, username: str, password_hash: str) -> int:
    return int(conn.execute(update(accounts).where(accounts.c.username == username).values(password_hash=password_hash)).rowcount)


# -- caseloads -------------------------------------------------------------------------------


def assign_seeker(conn: Connection, advisor_id: str, subject_id: str, now: datetime) -> None:
    """Put the seeker in the advisor's caseload, if not there yet."""
    present = conn.execute(select(seeker_assignments.c.advisor_id).where(
        seeker_assignments.c.advisor_id == advisor_id, seeker_assignments.c.subject_id == subject_id)).first()
    if present is None:
        conn.execute(insert(seeker_assignments).values(advisor_id=advisor_id, subject_id=subject_id, assigned_at=now))


def assign_employer(conn: Connection, advisor_id: str, employer_id: str, now: datetime) -> None:
    """Put the employer in the advisor's portfolio, if not there yet."""
    present = conn.execute(select(employer_assignments.c.advisor_id).where(
        employer_assignments.c.advisor_id == advisor_id, employer_assignments.c.employer_id == employer_id)).first()
    if present is None:
        conn.execute(insert(employer_assignments).values(advisor_id=advisor_id, employer_id=employer_id, assigned_at=now))


def seekers_of(conn: Connection, advisor_id: str) -> list[Any]:
    """(subject id, username, assigned at) of the advisor's seekers, oldest assignment first."""
    return list(conn.execute(
        select(seeker_assignments.c.subject_id, accounts.c.username, seeker_assignments.c.assigned_at)
        .join(accounts, accounts.c.subject_id == seeker_assignments.c.subject_id)
        .where(seeker_assignments.c.advisor_id == advisor_id)
        .order_by(seeker_assignments.c.assigned_at, accounts.c.username)
    ).all())


def employers_of(conn: Connection, advisor_id: str) -> list[Any]:
    """(employer id, name, assigned at) of the advisor's employers, oldest assignment first."""
    return list(conn.execute(
        select(employer_assignments.c.employer_id, employers.c.name, employer_assignments.c.assigned_at)
        .join(employers, employers.c.id == employer_assignments.c.employer_id)
        .where(employer_assignments.c.advisor_id == advisor_id)
        .order_by(employer_assignments.c.assigned_at, employers.c.name)
    ).all())


# -- service clients -------------------------------------------------------------------------


def service_clients(conn: Connection) -> list[Any]:
    return list(conn.execute(select(accounts).where(accounts.c.role == Role.SERVICE.value).order_by(accounts.c.username)).all())


def disable_service_client(conn: Connection, name: str, now: datetime) -> bool:
    done = conn.execute(update(accounts).where(accounts.c.username == name, accounts.c.role == Role.SERVICE.value,
                                               accounts.c.disabled_at.is_(None)).values(disabled_at=now))
    return bool(done.rowcount)


def set_webhook_generation(conn: Connection, client_id: str, generation: int, previous_until: datetime) -> None:
    conn.execute(update(accounts).where(accounts.c.id == client_id).values(webhook_generation=generation,
                                                                           webhook_previous_until=previous_until))


def open_service_client(conn: Connection, client_id: str) -> Any:
    """(id, password hash, scopes, webhook secret generation and overlap) of the open service
    client ``client_id``, or None."""
    return conn.execute(select(accounts.c.id, accounts.c.password_hash, accounts.c.scopes, accounts.c.webhook_generation,
                               accounts.c.webhook_previous_until).where(
        accounts.c.id == client_id, accounts.c.role == Role.SERVICE.value, accounts.c.disabled_at.is_(None))).first()

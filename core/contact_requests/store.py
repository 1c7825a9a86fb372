"""Storage of contact requests (SQLAlchemy Core)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from core.contact_requests.models import contact_requests
from core.models import employers
from core.search.models import search_appearances

_REQUEST = (contact_requests, employers.c.name.label("employer_name"))


def shown_subject(conn: Connection, employer_id: str, candidate_ref: str) -> str | None:
    """The seeker ``employer_id`` knows as ``candidate_ref``, if one of its searches showed them."""
    found: str | None = conn.execute(
        select(search_appearances.c.subject_id)
        .where(search_appearances.c.employer_id == employer_id, search_appearances.c.candidate_ref == candidate_ref)
        .limit(1)
    ).scalar()
    return found


def sent_since(conn: Connection, employer_id: str, since: datetime) -> int:
    return int(conn.execute(select(func.count()).select_from(contact_requests)
                            .where(contact_requests.c.employer_id == employer_id, contact_requests.c.created_at > since)).scalar_one())


def open_request(conn: Connection, employer_id: str, subject_id: str, now: datetime) -> str | None:
    """The id of the employer's pending, unexpired request to the seeker, if there is one."""
    found: str | None = conn.execute(
        select(contact_requests.c.id).where(contact_requests.c.employer_id == employer_id,
                                            contact_requests.c.subject_id == subject_id,
                                            contact_requests.c.state == "pending", contact_requests.c.expires_at > now)
    ).scalar()
    return found


def insert_request(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(contact_requests).values(**values))


def request_of_employer(conn: Connection, employer_id: str, request_id: str) -> Any | None:
    return conn.execute(select(*_REQUEST).join(employers, employers.c.id == contact_requests.c.employer_id)
                        .where(contact_requests.c.id == request_id, contact_requests.c.employer_id == employer_id)).first()


def request_of_subject(conn: Connection, subject_id: str, request_id: str, lock: bool = False) -> Any | None:
    query = (select(*_REQUEST).join(employers, employers.c.id == contact_requests.c.employer_id)
             .where(contact_requests.c.id == request_id, contact_requests.c.subject_id == subject_id))
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update(of=contact_requests)
    return conn.execute(query).first()


def requests_of_employer(conn: Connection, employer_id: str, limit: int) -> list[Any]:
    return list(conn.execute(select(*_REQUEST).join(employers, employers.c.id == contact_requests.c.employer_id)
                             .where(contact_requests.c.employer_id == employer_id)
                             .order_by(contact_requests.c.created_at.desc(), contact_requests.c.id).limit(limit)).all())


def requests_of_subject(conn: Connection, subject_id: str) -> list[Any]:
    return list(conn.execute(select(*_REQUEST).join(employers, employers.c.id == contact_requests.c.employer_id)
                             .where(contact_requests.c.subject_id == subject_id)
                             .order_by(contact_requests.c.created_at.desc(), contact_requests.c.id)).all())


def decide(conn: Connection, request_id: str, state: str, was: str, now: datetime, receipt_id: str | None) -> bool:
    """Move the request from ``was`` to ``state``; False if it was not in ``was`` any more."""
    done = conn.execute(update(contact_requests).where(and_(contact_requests.c.id == request_id, contact_requests.c.state == was))
                        .values(state=state, decided_at=now, receipt_id=receipt_id))
    return bool(done.rowcount)


def forget_subject(conn: Connection, subject_id: str) -> None:
    conn.execute(delete(contact_requests).where(contact_requests.c.subject_id == subject_id))

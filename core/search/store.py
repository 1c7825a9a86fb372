"""Storage of employers' searches and of who each one showed (SQLAlchemy Core)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from core.models import employers
from core.search.models import employer_searches, search_appearances


@dataclass(frozen=True, slots=True)
class Appearance:
    """A seeker shown in a search, as stored (the explanation still sealed)."""

    candidate_ref: str
    subject_id: str
    rank: int
    score: float
    explanation: bytes


def insert_search(conn: Connection, search_id: str, employer_id: str, account_id: str, criteria: dict[str, Any], total: int,
                  shown: Sequence[Appearance], now: datetime) -> None:
    conn.execute(insert(employer_searches).values(id=search_id, employer_id=employer_id, account_id=account_id,
                                                  criteria=json.dumps(criteria, sort_keys=True), total=total,
                                                  shown=len(shown), created_at=now))
    if shown:
        conn.execute(insert(search_appearances), [
            {"search_id": search_id, "candidate_ref": a.candidate_ref, "employer_id": employer_id, "subject_id": a.subject_id,
             "rank": a.rank, "score": a.score, "explanation": a.explanation}
            for a in shown
        ])


def searches_of(conn: Connection, employer_id: str, limit: int, before: datetime | None) -> list[Any]:
    """The employer's searches, newest first."""
    query = select(employer_searches).where(employer_searches.c.employer_id == employer_id)
    if before is not None:
        query = query.where(employer_searches.c.created_at < before)
    return list(conn.execute(query.order_by(employer_searches.c.created_at.desc(), employer_searches.c.id).limit(limit)).all())


def search_of(conn: Connection, employer_id: str, search_id: str) -> Any | None:
    return conn.execute(select(employer_searches).where(employer_searches.c.id == search_id,
                                                        employer_searches.c.employer_id == employer_id)).first()


def appearances_of(conn: Connection, subject_id: str, limit: int) -> list[Any]:
    """The searches that showed the seeker, newest first, with the employer's name."""
    return list(conn.execute(
        select(search_appearances.c.search_id, search_appearances.c.rank, search_appearances.c.score,
               search_appearances.c.explanation, employer_searches.c.created_at, employer_searches.c.employer_id,
               employers.c.name.label("employer_name"))
        .join(employer_searches, employer_searches.c.id == search_appearances.c.search_id)
        .join(employers, employers.c.id == employer_searches.c.employer_id)
        .where(search_appearances.c.subject_id == subject_id)
        .order_by(employer_searches.c.created_at.desc(), search_appearances.c.search_id).limit(limit)
    ).all())


def forget_subject(conn: Connection, subject_id: str) -> None:
    """At an erasure: the searches that showed the seeker keep their counts, not the seeker."""
    conn.execute(delete(search_appearances).where(search_appearances.c.subject_id == subject_id))

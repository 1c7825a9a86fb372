"""The register of evidence documents (``evidence_documents``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from core.evidence.models import evidence_documents as table


def register(conn: Connection, **values: Any) -> None:
    conn.execute(insert(table).values(**values))


def by_digest(conn: Connection, sha256: str) -> Any:
    return conn.execute(select(table).where(table.c.sha256 == sha256)).first()


def by_code(conn: Connection, code: str) -> list[Any]:
    return list(conn.execute(select(table).where(table.c.code == code).order_by(table.c.media_type)).all())

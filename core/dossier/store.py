"""Storage of dossier records and their sealed fields, and the subject's row locks (SQLAlchemy Core).

Reads are one statement per dossier: the policy's allowed categories select the rows, so a
field the actor may not see is neither loaded nor opened.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.engine import Connection

from core.crypto.sealing import SubjectCipher
from core.db import Prepared
from core.dossier.records import OpenedRecord, RecordKind
from core.models import blind_indexes, new_id, records, sealed_fields, subjects


# Fields are sealed as JSON text (``write_fields``); one decoder, given text, skips what
# ``json.loads`` does on every call (encoding detection), a visible share of a dossier read.
_decode = json.JSONDecoder().decode


@functools.lru_cache(maxsize=256)
def _load_statement(categories: tuple[str, ...]) -> Prepared:
    """The load of a set of categories: one statement per set, compiled once (the sets a policy
    allows are few; an expanding IN would be re-rendered on every request)."""
    return Prepared(
        select(records.c.id, records.c.kind, records.c.created_at, records.c.recorded_by,
               sealed_fields.c.field, sealed_fields.c.ciphertext)
        .join(records, records.c.id == sealed_fields.c.record_id)
        .where(
            sealed_fields.c.subject_id == bindparam("subject_id"),
            # One plain parameter per category (an expanding IN would be re-rendered per call).
            sealed_fields.c.category.in_([bindparam(f"category_{i}", value) for i, value in enumerate(categories)]),
        )
        .order_by(records.c.created_at, records.c.id)
    )


def load_sealed(conn: Connection, subject_id: str, categories: Iterable[str]) -> list[tuple[Any, ...]]:
    """The sealed fields of ``categories``, oldest record first, as stored (nothing opened yet)."""
    wanted = tuple(sorted(categories))
    if not wanted:
        return []
    return _load_statement(wanted).rows(conn, {"subject_id": subject_id})


def load_sealed_of(conn: Connection, subject_ids: Iterable[str], categories: Iterable[str]) -> dict[str, list[tuple[Any, ...]]]:
    """``load_sealed`` for several subjects in one statement: subject id -> its rows."""
    wanted, kinds = sorted(set(subject_ids)), sorted(categories)
    found: dict[str, list[tuple[Any, ...]]] = {subject_id: [] for subject_id in wanted}
    if not wanted or not kinds:
        return found
    query = (
        select(sealed_fields.c.subject_id, records.c.id, records.c.kind, records.c.created_at, records.c.recorded_by,
               sealed_fields.c.field, sealed_fields.c.ciphertext)
        .join(records, records.c.id == sealed_fields.c.record_id)
        .where(sealed_fields.c.subject_id.in_(wanted), sealed_fields.c.category.in_(kinds))
        .order_by(records.c.created_at, records.c.id)
    )
    for subject_id, *row in conn.execute(query).all():
        found[subject_id].append(tuple(row))
    return found


def open_sealed(cipher: SubjectCipher, rows: list[tuple[Any, ...]]) -> list[OpenedRecord]:
    """Open what ``load_sealed`` returned. Runs after the transaction, so the write lock (SQLite)
    is not held while fields are decrypted and parsed."""
    opened: dict[str, OpenedRecord] = {}
    for record_id, kind, created_at, recorded_by, field, ciphertext in rows:
        record = opened.get(record_id)
        if record is None:
            record = opened[record_id] = OpenedRecord(record_id, kind, created_at, recorded_by, {})
        record.values[field] = _decode(cipher.open(record_id, field, ciphertext).decode())
    return list(opened.values())


def load_records(conn: Connection, cipher: SubjectCipher, subject_id: str, categories: Iterable[str]) -> list[OpenedRecord]:
    """Every record of the subject with the fields of ``categories``, opened, oldest first."""
    return open_sealed(cipher, load_sealed(conn, subject_id, categories))


def singleton_record_id(conn: Connection, subject_id: str, kind: RecordKind, now: datetime) -> str:
    """The id of the subject's identity or profile record, created at its first write.

    Callers hold the subject (a write's decision locks its row, SQLite's writer lock serialises
    all writes): two first writes cannot both create it.
    """
    found: str | None = conn.execute(
        select(records.c.id).where(records.c.subject_id == subject_id, records.c.kind == kind.value)
    ).scalar()
    return found if found is not None else create_record(conn, subject_id, kind, None, now)


def create_record(conn: Connection, subject_id: str, kind: RecordKind, recorded_by: str | None, now: datetime,
                  record_id: str | None = None) -> str:
    """A new record; ``record_id`` when the caller chose its id beforehand (a channel's ref)."""
    record_id = record_id or new_id()
    conn.execute(
        insert(records).values(id=record_id, subject_id=subject_id, kind=kind.value, recorded_by=recorded_by, created_at=now)
    )
    return record_id


def activity_category(conn: Connection, subject_id: str, record_id: str) -> str | None:
    """The category of the subject's activity ``record_id`` (plain metadata), or None when it has none."""
    found: str | None = conn.execute(
        select(sealed_fields.c.category).join(records, records.c.id == sealed_fields.c.record_id)
        .where(records.c.id == record_id, records.c.subject_id == subject_id, records.c.kind == RecordKind.ACTIVITY.value,
               sealed_fields.c.field == "kind")
    ).scalar()
    return found


def write_fields(
    conn: Connection,
    cipher: SubjectCipher,
    subject_id: str,
    record_id: str,
    values: Mapping[str, Any],
    category_of: Mapping[str, str],
    now: datetime,
) -> None:
    """Seal and store ``values`` (field -> JSON-able value), replacing those fields; None deletes."""
    conn.execute(
        delete(sealed_fields).where(sealed_fields.c.record_id == record_id, sealed_fields.c.field.in_(list(values)))
    )
    rows = [
        {
            "record_id": record_id,
            "field": field,
            "subject_id": subject_id,
            "category": category_of[field],
            "ciphertext": cipher.seal(record_id, field, json.dumps(value, separators=(",", ":")).encode()),
            "updated_at": now,
        }
        for field, value in values.items()
        if value is not None
    ]
    if rows:
        conn.execute(insert(sealed_fields), rows)


def delete_records(conn: Connection, subject_id: str) -> None:
    """Every record of the subject and its sealed fields: ciphertexts, and the plain metadata that
    describes them (kind, category, times, who recorded it)."""
    conn.execute(delete(sealed_fields).where(sealed_fields.c.subject_id == subject_id))
    conn.execute(delete(records).where(records.c.subject_id == subject_id))


def set_blind_index(conn: Connection, subject_id: str, kind: str, digest: bytes | None) -> None:
    conn.execute(delete(blind_indexes).where(blind_indexes.c.subject_id == subject_id, blind_indexes.c.kind == kind))
    if digest is not None:
        conn.execute(insert(blind_indexes).values(subject_id=subject_id, kind=kind, digest=digest))


def subjects_by_index(conn: Connection, kind: str, digest: bytes) -> list[str]:
    return list(
        conn.execute(select(blind_indexes.c.subject_id).where(blind_indexes.c.kind == kind, blind_indexes.c.digest == digest)).scalars()
    )


# -- the subject's row, as writers and releases lock it ---------------------------------------


def lock_subject_for_share(conn: Connection, subject_id: str) -> None:
    """Wait for any write that holds the subject's row (PostgreSQL; SQLite's writer lock serialises all)."""
    if conn.dialect.name != "sqlite":
        conn.execute(select(subjects.c.id).where(subjects.c.id == subject_id).with_for_update(read=True))


def lock_subjects_for_share(conn: Connection, subject_ids: Iterable[str]) -> None:
    """``lock_subject_for_share`` for several subjects in one statement."""
    if conn.dialect.name != "sqlite":
        conn.execute(select(subjects.c.id).where(subjects.c.id.in_(sorted(set(subject_ids)))).with_for_update(read=True))


def lock_subject_for_update(conn: Connection, subject_id: str) -> None:
    """Hold the subject's row as a write does (a grant or a withdrawal), on PostgreSQL."""
    if conn.dialect.name != "sqlite":
        conn.execute(select(subjects.c.id).where(subjects.c.id == subject_id).with_for_update())

"""Storage of the plugin framework (SQLAlchemy Core): every statement on the plugin tables.

Holdings (what was released to which plugin), calls in flight, the plugins' own stores and their
change feed, the event outbox, purges and incidents. The services of the package
(``gateway``, ``context``, ``outbox``, ``purges``, ``service``) go through these functions.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, false, func, insert, not_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from consent.store import live_consent_clause
from core.crypto.sealing import WrappedKey
from core.db import upsert
from core.dossier.store import lock_subject_for_share
from core.models import subjects
from core.plugins.models import (
    ERROR_LENGTH,
    NAME_LENGTH,
    plugin_calls,
    plugin_events,
    plugin_holdings,
    plugin_incidents,
    plugin_purges,
    plugin_shared_data,
    plugin_store_changes,
    plugin_store_sequences,
    plugin_subject_data,
)
from core.policy import RELEASE_BASES
from plugins.api import NotHeld


def live(purpose: str, legal_basis: str, now: datetime) -> ColumnElement[bool]:
    """True while the seeker is not erased and the purpose's basis holds: for a consent purpose, a
    live consent; for an unknown basis, never."""
    alive = subjects.c.erased_at.is_(None)
    if legal_basis == "consent":
        return and_(alive, exists().where(live_consent_clause(subjects.c.id, purpose, now)))
    if legal_basis in RELEASE_BASES:
        return alive
    return false()


# -- holdings: what was released to which plugin, under which purpose -------------------------


def note_holding(conn: Connection, plugin: str, subject_id: str, purpose: str, pseudonym: str, now: datetime) -> None:
    upsert(conn, plugin_holdings, {"plugin": plugin, "subject_id": subject_id, "purpose": purpose, "pseudonym": pseudonym,
                                   "first_released_at": now, "last_released_at": now},
           keys=("plugin", "subject_id", "purpose"), changes=("last_released_at",))


def holdings_of(conn: Connection, subject_id: str, purpose: str | None) -> list[Any]:
    """(plugin, purpose, pseudonym) of each holding of the subject (under ``purpose``, or all)."""
    return list(conn.execute(select(plugin_holdings.c.plugin, plugin_holdings.c.purpose, plugin_holdings.c.pseudonym)
                             .where(_holding_of(subject_id, purpose))).all())


def delete_holdings(conn: Connection, subject_id: str, purpose: str | None) -> None:
    conn.execute(delete(plugin_holdings).where(_holding_of(subject_id, purpose)))


def _holding_of(subject_id: str, purpose: str | None) -> ColumnElement[bool]:
    condition = plugin_holdings.c.subject_id == subject_id
    return condition if purpose is None else and_(condition, plugin_holdings.c.purpose == purpose)


def live_holders(conn: Connection, plugin: str, purpose: str, pseudonyms: Iterable[str], now: datetime) -> dict[str, str]:
    """pseudonym -> subject id, for those of ``pseudonyms`` the plugin holds under the consent
    purpose ``purpose`` of seekers not erased whose consent is live now."""
    wanted = sorted(set(pseudonyms))
    if not wanted:
        return {}
    query = (
        select(plugin_holdings.c.pseudonym, plugin_holdings.c.subject_id)
        .join(subjects, subjects.c.id == plugin_holdings.c.subject_id)
        .where(plugin_holdings.c.plugin == plugin, plugin_holdings.c.purpose == purpose,
               plugin_holdings.c.pseudonym.in_(wanted), live(purpose, "consent", now))
    )
    return {pseudonym: subject_id for pseudonym, subject_id in conn.execute(query).all()}


def lapsed_holdings(conn: Connection, consent_purposes: Sequence[str], now: datetime) -> list[Any]:
    """(subject id, purpose) of holdings under a consent purpose whose consent is no longer live."""
    return list(conn.execute(
        select(plugin_holdings.c.subject_id, plugin_holdings.c.purpose).distinct()
        .where(plugin_holdings.c.purpose.in_(list(consent_purposes)),
               not_(exists().where(live_consent_clause(plugin_holdings.c.subject_id, plugin_holdings.c.purpose, now))))
    ).all())


# -- calls in flight ---------------------------------------------------------------------------


def begin_call(conn: Connection, plugin: str, subject_id: str, purpose: str, now: datetime, lease: timedelta) -> str:
    """Note a call about to be made with a view of the subject, in the release's transaction."""
    call_id = str(uuid.uuid4())
    conn.execute(insert(plugin_calls).values(id=call_id, plugin=plugin, subject_id=subject_id, purpose=purpose,
                                             started_at=now, lease_until=now + lease))
    return call_id


def end_call(conn: Connection, call_id: str) -> None:
    conn.execute(delete(plugin_calls).where(plugin_calls.c.id == call_id))


def calls_in_flight(conn: Connection, plugin: str, subject_id: str, purpose: str | None, now: datetime) -> int:
    """Calls of ``plugin`` about the subject (under ``purpose``, or any) still running, leases unexpired."""
    condition = and_(plugin_calls.c.plugin == plugin, plugin_calls.c.subject_id == subject_id, plugin_calls.c.lease_until > now)
    if purpose is not None:
        condition = and_(condition, plugin_calls.c.purpose == purpose)
    return int(conn.execute(select(func.count()).select_from(plugin_calls).where(condition)).scalar_one())


# -- a plugin's per-seeker store ---------------------------------------------------------------


def held_subject(conn: Connection, plugin: str, pseudonym: str, purpose: str, legal_basis: str, now: datetime,
                 lock: bool = False) -> tuple[str, WrappedKey]:
    """The subject ``plugin`` holds under ``pseudonym`` and ``purpose``, if that purpose is live now;
    NotHeld otherwise.

    NOTE: with ``lock`` (a write), the subject's row is locked for share first, as a release does,
    and the holding and the consent are read with a fresh snapshot: a withdrawal (which purges
    under an update lock) is then either wholly before or wholly after, so no entry outlives it.
    """
    holding = _holding(plugin, pseudonym, purpose)
    if lock:
        subject_id = conn.execute(select(plugin_holdings.c.subject_id).where(holding)).scalar()
        if subject_id is None:
            raise NotHeld(pseudonym)
        lock_subject_for_share(conn, subject_id)
    row = conn.execute(
        select(subjects.c.id, subjects.c.kek_version, subjects.c.wrapped_dek)
        .join(plugin_holdings, plugin_holdings.c.subject_id == subjects.c.id)
        .where(holding, live(purpose, legal_basis, now))
    ).first()
    if row is None or row.wrapped_dek is None:
        raise NotHeld(pseudonym)
    return row.id, WrappedKey(row.kek_version, row.wrapped_dek)


def holder_of(conn: Connection, plugin: str, pseudonym: str, purpose: str) -> str | None:
    result: str | None = conn.execute(select(plugin_holdings.c.subject_id).where(_holding(plugin, pseudonym, purpose))).scalar()
    return result


def _holding(plugin: str, pseudonym: str, purpose: str) -> ColumnElement[bool]:
    return and_(plugin_holdings.c.plugin == plugin, plugin_holdings.c.pseudonym == pseudonym, plugin_holdings.c.purpose == purpose)


def _entry(plugin: str, subject_id: str, purpose: str, name: str | None) -> ColumnElement[bool]:
    condition = and_(plugin_subject_data.c.plugin == plugin, plugin_subject_data.c.subject_id == subject_id,
                     plugin_subject_data.c.purpose == purpose)
    return condition if name is None else and_(condition, plugin_subject_data.c.name == name)


def put_entry(conn: Connection, plugin: str, subject_id: str, pseudonym: str, purpose: str, name: str, sealed: bytes,
              now: datetime) -> None:
    upsert(conn, plugin_subject_data, {"plugin": plugin, "subject_id": subject_id, "purpose": purpose, "name": name,
                                       "sealed": sealed, "updated_at": now},
           keys=("plugin", "subject_id", "purpose", "name"), changes=("sealed", "updated_at"))
    _changed(conn, plugin, [(purpose, name, subject_id, pseudonym)], deleted=False)


def get_entry(conn: Connection, plugin: str, subject_id: str, purpose: str, name: str) -> bytes | None:
    sealed: bytes | None = conn.execute(select(plugin_subject_data.c.sealed).where(_entry(plugin, subject_id, purpose, name))).scalar()
    return sealed


def delete_entries(conn: Connection, plugin: str, subject_id: str, pseudonym: str, purpose: str, name: str | None) -> int:
    condition = _entry(plugin, subject_id, purpose, name)
    names = list(conn.execute(select(plugin_subject_data.c.name).where(condition)).scalars())
    if not names:
        return 0
    conn.execute(delete(plugin_subject_data).where(condition))
    _changed(conn, plugin, [(purpose, n, subject_id, pseudonym) for n in names], deleted=True)
    return len(names)


def forget_subject(conn: Connection, subject_id: str, purpose: str | None) -> None:
    """Delete every plugin's entries about the subject (under ``purpose``, or all), noting each
    deletion in the plugin's change feed (the pseudonyms come from the holdings, still present)."""
    stored = plugin_subject_data.c.subject_id == subject_id
    if purpose is not None:
        stored = and_(stored, plugin_subject_data.c.purpose == purpose)
    rows = conn.execute(
        select(plugin_subject_data.c.plugin, plugin_subject_data.c.purpose, plugin_subject_data.c.name, plugin_holdings.c.pseudonym)
        .join(plugin_holdings, and_(plugin_holdings.c.plugin == plugin_subject_data.c.plugin,
                                    plugin_holdings.c.subject_id == plugin_subject_data.c.subject_id,
                                    plugin_holdings.c.purpose == plugin_subject_data.c.purpose))
        .where(stored)
    ).all()
    conn.execute(delete(plugin_subject_data).where(stored))
    by_plugin: dict[str, list[tuple[str, str, str, str]]] = {}
    for plugin, held_purpose, name, pseudonym in rows:
        by_plugin.setdefault(plugin, []).append((held_purpose, name, subject_id, pseudonym))
    for plugin, changes in sorted(by_plugin.items()):
        _changed(conn, plugin, changes, deleted=True)


def live_entries(conn: Connection, plugin: str, purpose: str, name: str, legal_basis: str, now: datetime) -> list[Any]:
    """(pseudonym, subject id, kek version, wrapped key, sealed) of every live entry ``name``, by pseudonym."""
    query = (
        select(plugin_holdings.c.pseudonym, subjects.c.id, subjects.c.kek_version, subjects.c.wrapped_dek,
               plugin_subject_data.c.sealed)
        .join(subjects, subjects.c.id == plugin_subject_data.c.subject_id)
        .join(plugin_holdings, and_(plugin_holdings.c.plugin == plugin_subject_data.c.plugin,
                                    plugin_holdings.c.subject_id == plugin_subject_data.c.subject_id,
                                    plugin_holdings.c.purpose == plugin_subject_data.c.purpose))
        .where(plugin_subject_data.c.plugin == plugin, plugin_subject_data.c.purpose == purpose,
               plugin_subject_data.c.name == name, live(purpose, legal_basis, now))
        .order_by(plugin_holdings.c.pseudonym)
    )
    return list(conn.execute(query).all())


def changes_since(conn: Connection, plugin: str, purpose: str, name: str, legal_basis: str, since: int,
                  now: datetime) -> list[Any]:
    """The change feed: (seq, pseudonym, subject id, kek version, wrapped key, sealed or None, live)
    of every entry ``name`` changed after ``since``, in order; one statement."""
    data = plugin_subject_data
    query = (
        select(plugin_store_changes.c.seq, plugin_store_changes.c.pseudonym, subjects.c.id, subjects.c.kek_version,
               subjects.c.wrapped_dek, data.c.sealed, live(purpose, legal_basis, now).label("live"))
        .join(subjects, subjects.c.id == plugin_store_changes.c.subject_id)
        .outerjoin(data, and_(data.c.plugin == plugin_store_changes.c.plugin, data.c.subject_id == plugin_store_changes.c.subject_id,
                              data.c.purpose == plugin_store_changes.c.purpose, data.c.name == plugin_store_changes.c.name))
        .where(plugin_store_changes.c.plugin == plugin, plugin_store_changes.c.purpose == purpose,
               plugin_store_changes.c.name == name, plugin_store_changes.c.seq > since)
        .order_by(plugin_store_changes.c.seq)
    )
    return list(conn.execute(query).all())


def _changed(conn: Connection, plugin: str, entries: Sequence[tuple[str, str, str, str]], deleted: bool) -> None:
    """Number the change of ``entries`` (purpose, name, subject id, pseudonym) with the plugin's next number.

    NOTE: taking the next number locks the plugin's sequence row until this transaction commits,
    so changes commit in the order of their numbers: a reader that has seen number n has seen
    every change numbered below n, and ``changes_since`` never skips one.
    """
    seq = _next_seq(conn, plugin)
    for purpose, name, subject_id, pseudonym in entries:
        upsert(conn, plugin_store_changes, {"plugin": plugin, "purpose": purpose, "name": name, "subject_id": subject_id,
                                            "pseudonym": pseudonym, "seq": seq, "deleted": deleted},
               keys=("plugin", "purpose", "name", "subject_id"), changes=("pseudonym", "seq", "deleted"))


def _next_seq(conn: Connection, plugin: str) -> int:
    table = plugin_store_sequences
    insert_ = sqlite_insert(table) if conn.dialect.name == "sqlite" else postgresql_insert(table)
    statement = (insert_.values(plugin=plugin, last_seq=1)
                 .on_conflict_do_update(index_elements=["plugin"], set_={"last_seq": table.c.last_seq + 1})
                 .returning(table.c.last_seq))
    return int(conn.execute(statement).scalar_one())


# -- a plugin's shared store -------------------------------------------------------------------


def _shared(plugin: str, name: str, key: str) -> ColumnElement[bool]:
    return and_(plugin_shared_data.c.plugin == plugin, plugin_shared_data.c.name == name, plugin_shared_data.c.key == key)


def put_shared(conn: Connection, plugin: str, name: str, key: str, value: str, now: datetime) -> None:
    upsert(conn, plugin_shared_data, {"plugin": plugin, "name": name, "key": key, "value": value, "updated_at": now},
           keys=("plugin", "name", "key"), changes=("value", "updated_at"))


def get_shared(conn: Connection, plugin: str, name: str, key: str) -> str | None:
    value: str | None = conn.execute(select(plugin_shared_data.c.value).where(_shared(plugin, name, key))).scalar()
    return value


def delete_shared(conn: Connection, plugin: str, name: str, key: str) -> bool:
    return bool(conn.execute(delete(plugin_shared_data).where(_shared(plugin, name, key))).rowcount)


def shared_items(conn: Connection, plugin: str, name: str) -> list[Any]:
    return list(conn.execute(
        select(plugin_shared_data.c.key, plugin_shared_data.c.value)
        .where(plugin_shared_data.c.plugin == plugin, plugin_shared_data.c.name == name)
        .order_by(plugin_shared_data.c.key)
    ).all())


# -- the event outbox --------------------------------------------------------------------------


def queue_event(conn: Connection, event: str, subject_id: str | None, record_id: str | None, payload: dict[str, Any] | None,
                request_id: str | None, now: datetime) -> None:
    conn.execute(insert(plugin_events).values(event=event, subject_id=subject_id, record_id=record_id,
                                              payload=json.dumps(payload) if payload is not None else None,
                                              request_id=request_id, created_at=now))


def _free(now: datetime) -> ColumnElement[bool]:
    return or_(plugin_events.c.lease_until.is_(None), plugin_events.c.lease_until < now)


def pending_events(conn: Connection, now: datetime, batch: int) -> list[int]:
    """Ids of events no dispatcher holds; several dispatchers on PostgreSQL see different ones."""
    query = select(plugin_events.c.id).where(_free(now)).order_by(plugin_events.c.id).limit(batch)
    return list(conn.execute(query.with_for_update(skip_locked=True)).scalars())


def lease_event(conn: Connection, event_id: int, now: datetime, lease: timedelta) -> Any:
    """Take one event for ``lease`` if no other dispatcher holds it; its row, or None."""
    taken = conn.execute(update(plugin_events).where(plugin_events.c.id == event_id, _free(now)).values(lease_until=now + lease))
    if not taken.rowcount:
        return None
    return conn.execute(select(plugin_events).where(plugin_events.c.id == event_id)).one()


def last_event_id(conn: Connection, events: Sequence[str]) -> int | None:
    """The id of the latest queued event among ``events`` (None when none is queued)."""
    last: int | None = conn.execute(select(func.max(plugin_events.c.id)).where(plugin_events.c.event.in_(list(events)))).scalar()
    return last


def events_up_to(conn: Connection, events: Sequence[str], last: int) -> int:
    """How many events among ``events`` with an id up to ``last`` are still queued."""
    return int(conn.execute(select(func.count()).select_from(plugin_events)
                            .where(plugin_events.c.event.in_(list(events)), plugin_events.c.id <= last)).scalar_one())


def delete_event(conn: Connection, event_id: int) -> None:
    conn.execute(delete(plugin_events).where(plugin_events.c.id == event_id))


def delete_subject_events(conn: Connection, subject_id: str) -> None:
    conn.execute(delete(plugin_events).where(plugin_events.c.subject_id == subject_id))


# -- purges ------------------------------------------------------------------------------------


def queue_purges(conn: Connection, subject_id: str, wanted: Sequence[tuple[str, str | None]], cause: str, now: datetime,
                 claimed_until: datetime, request_id: str | None) -> list[str]:
    """One purge per (plugin, purpose) in ``wanted``, claimed for the attempt made after the commit."""
    ids = [str(uuid.uuid4()) for _ in wanted]
    conn.execute(insert(plugin_purges), [
        {"id": purge_id, "plugin": plugin, "subject_id": subject_id, "purpose": purpose, "cause": cause, "requested_at": now,
         "attempts": 0, "next_attempt_at": claimed_until, "request_id": request_id}
        for purge_id, (plugin, purpose) in zip(ids, wanted, strict=True)
    ])
    return ids


def unconfirmed_purges(conn: Connection, ids: Sequence[str]) -> list[Any]:
    return list(conn.execute(select(plugin_purges).where(plugin_purges.c.id.in_(list(ids)), plugin_purges.c.confirmed_at.is_(None))).all())


def claim_due_purges(conn: Connection, now: datetime, claimed_until: datetime, batch: int = 100) -> list[str]:
    query = (select(plugin_purges.c.id)
             .where(plugin_purges.c.confirmed_at.is_(None), plugin_purges.c.next_attempt_at <= now)
             .order_by(plugin_purges.c.next_attempt_at).limit(batch))
    ids = list(conn.execute(query.with_for_update(skip_locked=True)).scalars())
    if ids:
        # Claimed: another worker will not take them while these attempts run.
        conn.execute(update(plugin_purges).where(plugin_purges.c.id.in_(ids)).values(next_attempt_at=claimed_until))
    return ids


def confirm_purge(conn: Connection, purge_id: str, items: int, now: datetime) -> bool:
    """Mark the purge confirmed; False if it already was (two attempts raced)."""
    done = conn.execute(update(plugin_purges).where(plugin_purges.c.id == purge_id, plugin_purges.c.confirmed_at.is_(None))
                        .values(confirmed_at=now, items=items, attempts=plugin_purges.c.attempts + 1, last_error=None))
    return bool(done.rowcount)


def purge_failed(conn: Connection, purge_id: str, error: str | None, next_attempt_at: datetime) -> None:
    conn.execute(update(plugin_purges).where(plugin_purges.c.id == purge_id, plugin_purges.c.confirmed_at.is_(None))
                 .values(attempts=plugin_purges.c.attempts + 1, next_attempt_at=next_attempt_at, last_error=bounded(error)))


def purges(conn: Connection, pending_only: bool, limit: int = 1000) -> list[Any]:
    """The purges, the unconfirmed first."""
    query = select(plugin_purges).order_by(plugin_purges.c.confirmed_at.is_not(None), plugin_purges.c.requested_at)
    if pending_only:
        query = query.where(plugin_purges.c.confirmed_at.is_(None))
    return list(conn.execute(query.limit(limit)).all())


def unconfirmed_by_plugin(conn: Connection) -> dict[str, int]:
    return {plugin: count for plugin, count in conn.execute(
        select(plugin_purges.c.plugin, func.count()).where(plugin_purges.c.confirmed_at.is_(None)).group_by(plugin_purges.c.plugin))}


# -- incidents ---------------------------------------------------------------------------------


def record_incident(conn: Connection, plugin: str, hook: str, kind: str, error: str | None, now: datetime) -> None:
    """Keep a failed call; the names are cut to their columns (a plugin chooses its exceptions' names)."""
    conn.execute(insert(plugin_incidents).values(plugin=plugin[:NAME_LENGTH], hook=hook[:NAME_LENGTH], kind=kind[:20],
                                                 error=bounded(error), at=now))


def incidents_since(conn: Connection, since: datetime) -> dict[str, tuple[int, datetime]]:
    """plugin -> (incidents since ``since``, the last one's time)."""
    return {plugin: (count, last) for plugin, count, last in conn.execute(
        select(plugin_incidents.c.plugin, func.count(), func.max(plugin_incidents.c.at))
        .where(plugin_incidents.c.at >= since).group_by(plugin_incidents.c.plugin))}


def bounded(error: str | None) -> str | None:
    """An error's kind as the tables keep it (200 characters)."""
    return error[:ERROR_LENGTH] if error else error

"""The idempotency keys of channel clients' messages (``channel_deliveries``).

A message's key is its ``Idempotency-Key`` header (draft-ietf-httpapi-idempotency-key-header), or
else its ``webhook-id``, within what one client sent; its ``webhook-id`` is kept unique beside it,
because the signature covers the webhook-id and not the Idempotency-Key: a captured message sent
again under a new Idempotency-Key is found by its webhook-id, and answered as the copy it is. Before the handler runs, the key is claimed
in a short transaction of its own, so that a second copy arriving meanwhile is told the first is
still in flight (409) instead of running the handler again; the answer is then stored in the
transaction that records the message's effect, so the effect and "this key was answered" commit
together or not at all. A later copy gets the stored answer; a copy with another body, 422.
A claim whose handler failed is released (the sender may try again); one left by a process that
died is taken over once it is older than ``stale_after``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from core.errors import Conflict, DossierError
from core.models import as_utc
from core.plugins.models import channel_deliveries as table
from core.runtime import Runtime


class KeyReused(DossierError):
    """The key came with another message: the draft's 422."""

    slug, status = "idempotency-key-reused", 422


class InFlight(Conflict):
    slug = "request-in-flight"


@dataclass(frozen=True)
class Delivery:
    """Who sent a message under which key, and a keyed hash of what it held."""

    client_id: str
    key: str
    message_id: str
    plugin: str
    path: str
    request_mac: str


@dataclass(frozen=True)
class Answered:
    """The stored answer of a message already recorded."""

    status: int
    answer: str


def claim(rt: Runtime, delivery: Delivery, stale_after: timedelta) -> Answered | None:
    """Claim ``delivery``'s key; None when claimed (run the handler), its stored answer when the key
    was answered; KeyReused or InFlight otherwise."""
    for attempt in range(2):
        try:
            with rt.transaction() as conn:
                return _claim(conn, delivery, rt.clock(), stale_after)
        except IntegrityError:
            # NOTE: PostgreSQL only (SQLite serialises writers): another copy inserted the key
            # between our read and our insert; read again what it left.
            if attempt:
                raise
    raise AssertionError("unreachable")


def complete(conn: Connection, delivery: Delivery, status: int, answer: str, now: datetime) -> None:
    """In the transaction that records the message's effect: the key is answered."""
    conn.execute(update(table).where(table.c.client_id == delivery.client_id, table.c.key == delivery.key)
                 .values(completed_at=now, status=status, answer=answer))


def release(rt: Runtime, delivery: Delivery) -> None:
    """The handler failed, or refused the message: nothing was recorded, the key is free again."""
    with rt.transaction() as conn:
        conn.execute(delete(table).where(table.c.client_id == delivery.client_id, table.c.key == delivery.key,
                                         table.c.completed_at.is_(None)))


def forget_expired(rt: Runtime, now: datetime) -> int:
    """Forget the keys older than ``CHANNEL_IDEMPOTENCY_DAYS`` (senders stopped retrying long before)."""
    cutoff = now - timedelta(days=rt.settings.CHANNEL_IDEMPOTENCY_DAYS)
    with rt.engine.connect() as conn:
        if conn.execute(select(table.c.key).where(table.c.claimed_at < cutoff).limit(1)).first() is None:
            return 0  # the usual case: no write transaction for nothing
    with rt.transaction() as conn:
        return conn.execute(delete(table).where(table.c.claimed_at < cutoff)).rowcount or 0


def _claim(conn: Connection, delivery: Delivery, now: datetime, stale_after: timedelta) -> Answered | None:
    rows = conn.execute(select(table).where(table.c.client_id == delivery.client_id,
                                            or_(table.c.key == delivery.key, table.c.message_id == delivery.message_id))
                        .with_for_update()).all()
    if not rows:
        conn.execute(insert(table).values(client_id=delivery.client_id, key=delivery.key, message_id=delivery.message_id,
                                          plugin=delivery.plugin, path=delivery.path, request_mac=delivery.request_mac,
                                          claimed_at=now))
        return None
    if any((row.request_mac, row.plugin, row.path) != (delivery.request_mac, delivery.plugin, delivery.path) for row in rows):
        raise KeyReused("Cette clé d'idempotence (ou ce webhook-id) a déjà servi pour un autre message / "
                        "this idempotency key (or webhook-id) was used for another message.")
    answered = next((row for row in rows if row.completed_at is not None), None)
    if answered is not None:
        return Answered(answered.status, answered.answer)
    if len(rows) > 1 or any(as_utc(row.claimed_at) > now - stale_after for row in rows):
        raise InFlight("Ce message est encore en cours de traitement; réessayez plus tard / "
                       "this message is still being processed; retry later.")
    (row,) = rows
    conn.execute(update(table).where(table.c.client_id == delivery.client_id, table.c.key == row.key)
                 .values(claimed_at=now, key=delivery.key, message_id=delivery.message_id))
    return None

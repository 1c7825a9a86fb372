"""SQL of the delivery service (tables in core.delivery.models). Callers hold the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from core.delivery.models import alert_keys, alerts, deliveries, delivery_attempts, webhook_endpoints
from core.models import accounts, employer_assignments, employers, new_id

# -- advisors ----------------------------------------------------------------------------------


def advisors(conn: Connection, employer_id: str | None) -> list[tuple[str, str, str, str]]:
    """(advisor id, employer id, employer name, digest) of each assignment of an enabled advisor to an employer."""
    query = (
        select(accounts.c.id, employer_assignments.c.employer_id, employers.c.name, accounts.c.alert_digest)
        .join(employer_assignments, employer_assignments.c.advisor_id == accounts.c.id)
        .join(employers, employers.c.id == employer_assignments.c.employer_id)
        .where(accounts.c.role == "advisor", accounts.c.disabled_at.is_(None))
        .order_by(accounts.c.id, employer_assignments.c.employer_id)
    )
    if employer_id is not None:
        query = query.where(employer_assignments.c.employer_id == employer_id)
    return [(r.id, r.employer_id, r.name, r.alert_digest) for r in conn.execute(query)]


def advisor(conn: Connection, advisor_id: str) -> Any:
    """An enabled advisor's account: its e-mail address and preferences."""
    return conn.execute(
        select(accounts.c.id, accounts.c.email, accounts.c.email_alerts, accounts.c.alert_digest)
        .where(accounts.c.id == advisor_id, accounts.c.role == "advisor", accounts.c.disabled_at.is_(None))
    ).first()


def set_preferences(conn: Connection, account_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values))


# -- alerts ------------------------------------------------------------------------------------


def alert_of_key(conn: Connection, plugin: str, key: str) -> str | None:
    found: str | None = conn.execute(
        select(alert_keys.c.alert_id).where(alert_keys.c.plugin == plugin, alert_keys.c.key == key)).scalar()
    return found


def open_group(conn: Connection, advisor_id: str, plugin: str, group: str, now: datetime) -> Any:
    """The alert of that group still open at ``now`` (the latest), locked on PostgreSQL."""
    return conn.execute(
        select(alerts.c.id, alerts.c.occurrences)
        .where(alerts.c.advisor_id == advisor_id, alerts.c.plugin == plugin, alerts.c.group_key == group,
               alerts.c.group_until >= now)
        .order_by(alerts.c.created_at.desc()).limit(1).with_for_update()
    ).first()


def insert_alert(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(alerts).values(**values))


def count_again(conn: Connection, alert_id: str, values: dict[str, Any]) -> None:
    """One more occurrence of a grouped alert: the latest content, unread again."""
    conn.execute(update(alerts).where(alerts.c.id == alert_id)
                 .values(occurrences=alerts.c.occurrences + 1, read_at=None, **values))


def insert_key(conn: Connection, plugin: str, key: str, alert_id: str, now: datetime) -> None:
    conn.execute(insert(alert_keys).values(plugin=plugin, key=key, alert_id=alert_id, created_at=now))


def alerts_of(conn: Connection, advisor_id: str, *, unread: bool | None, employer_id: str | None, no_match: bool | None,
              kind: str | None, limit: int, offset: int) -> tuple[list[Any], int]:
    """A page of the advisor's alerts, the latest first, and how many match the filters."""
    conditions = [alerts.c.advisor_id == advisor_id]
    if unread is not None:
        conditions.append(alerts.c.read_at.is_(None) if unread else alerts.c.read_at.is_not(None))
    if employer_id is not None:
        conditions.append(alerts.c.employer_id == employer_id)
    if no_match is not None:
        conditions.append(alerts.c.no_match.is_(no_match))
    if kind is not None:
        conditions.append(alerts.c.kind == kind)
    where = and_(*conditions)
    total = int(conn.execute(select(func.count()).select_from(alerts).where(where)).scalar_one())
    rows = list(conn.execute(select(alerts).where(where).order_by(alerts.c.last_at.desc(), alerts.c.id)
                             .limit(limit).offset(offset)))
    return rows, total


def alerts_by_id(conn: Connection, alert_ids: Sequence[str]) -> dict[str, Any]:
    if not alert_ids:
        return {}
    return {row.id: row for row in conn.execute(select(alerts).where(alerts.c.id.in_(list(set(alert_ids)))))}


def advisors_by_id(conn: Connection, advisor_ids: Sequence[str]) -> dict[str, Any]:
    """Enabled advisors' addresses and preferences, by account id."""
    if not advisor_ids:
        return {}
    return {row.id: row for row in conn.execute(
        select(accounts.c.id, accounts.c.email, accounts.c.email_alerts, accounts.c.alert_digest)
        .where(accounts.c.id.in_(list(set(advisor_ids))), accounts.c.role == "advisor", accounts.c.disabled_at.is_(None)))}


def alert(conn: Connection, alert_id: str) -> Any:
    return conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()


def mark(conn: Connection, advisor_id: str, alert_id: str, read_at: datetime | None) -> bool:
    done = conn.execute(update(alerts).where(alerts.c.id == alert_id, alerts.c.advisor_id == advisor_id).values(read_at=read_at))
    return bool(done.rowcount)


def alerts_since(conn: Connection, advisor_id: str, plugin: str, kind: str, since: datetime, until: datetime) -> list[Any]:
    return list(conn.execute(
        select(alerts).where(alerts.c.advisor_id == advisor_id, alerts.c.plugin == plugin, alerts.c.kind == kind,
                             alerts.c.last_at >= since, alerts.c.last_at < until)
        .order_by(alerts.c.no_match.desc(), alerts.c.last_at.desc())))


# -- the outbox --------------------------------------------------------------------------------


def queue(conn: Connection, alert_id: str, channel: str, target: str, event_type: str, now: datetime) -> str:
    delivery_id = new_id()
    conn.execute(insert(deliveries).values(
        id=delivery_id, alert_id=alert_id, channel=channel, target=target, event_type=event_type, state="pending",
        attempts=0, next_attempt_at=now, created_at=now))
    return delivery_id


def claim(conn: Connection, now: datetime, leased_until: datetime, limit: int) -> list[Any]:
    """Take up to ``limit`` due deliveries for this worker until ``leased_until``.

    NOTE: on PostgreSQL the rows are locked with SKIP LOCKED, so that workers claiming at the same
    time take different rows without waiting for each other; the lease then keeps them out of
    every other claim until it ends (on SQLite the writer lock serialises the claims).
    """
    due = (
        select(deliveries.c.id)
        .where(deliveries.c.state == "pending", deliveries.c.next_attempt_at <= now,
               or_(deliveries.c.leased_until.is_(None), deliveries.c.leased_until < now))
        .order_by(deliveries.c.next_attempt_at).limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(conn.execute(due).scalars())
    if not ids:
        return []
    conn.execute(update(deliveries).where(deliveries.c.id.in_(ids))
                 .values(leased_until=leased_until, attempts=deliveries.c.attempts + 1))
    return list(conn.execute(select(deliveries).where(deliveries.c.id.in_(ids)).order_by(deliveries.c.next_attempt_at)))


def record_attempts(conn: Connection, attempts: Sequence[tuple[str, int, datetime, int, bool, int | None, str]]) -> None:
    """(delivery id, number, started at, duration in ms, succeeded, status, outcome) of each attempt."""
    conn.execute(insert(delivery_attempts), [
        {"id": new_id(), "delivery_id": delivery_id, "number": number, "started_at": started_at, "duration_ms": duration_ms,
         "succeeded": succeeded, "status_code": status_code, "outcome": outcome[:120]}
        for delivery_id, number, started_at, duration_ms, succeeded, status_code, outcome in attempts])


def release(conn: Connection, delivery_ids: Sequence[str], lease: datetime) -> None:
    """Deliveries claimed and not attempted: due again at once for any worker (the claim's count undone)."""
    conn.execute(update(deliveries).where(deliveries.c.id.in_(list(delivery_ids)), deliveries.c.leased_until == lease)
                 .values(leased_until=None, attempts=deliveries.c.attempts - 1))


def finish(conn: Connection, delivery_id: str, lease: datetime, values: dict[str, Any]) -> bool:
    """Close or reschedule a delivery this worker still holds (the lease it claimed it with)."""
    done = conn.execute(update(deliveries).where(deliveries.c.id == delivery_id, deliveries.c.leased_until == lease)
                        .values(leased_until=None, **values))
    return bool(done.rowcount)


def finish_delivered(conn: Connection, lease: datetime, finished: Sequence[tuple[str, str]], now: datetime) -> None:
    """(delivery id, outcome) of deliveries delivered, held under ``lease``: closed in one statement
    run for each (a row another worker took over meanwhile is left to it)."""
    statement = (update(deliveries)
                 .where(deliveries.c.id == bindparam("delivery"), deliveries.c.leased_until == bindparam("lease"))
                 .values(state="delivered", finished_at=now, last_outcome=bindparam("outcome"), leased_until=None))
    conn.execute(statement, [{"delivery": delivery_id, "lease": lease, "outcome": outcome} for delivery_id, outcome in finished])


def fail_pending_to(conn: Connection, endpoint_id: str, outcome: str, now: datetime) -> int:
    """An endpoint disabled: what waits for it will not go."""
    done = conn.execute(update(deliveries).where(deliveries.c.channel == "webhook", deliveries.c.target == endpoint_id,
                                                 deliveries.c.state == "pending")
                        .values(state="failed", finished_at=now, last_outcome=outcome, leased_until=None))
    return int(done.rowcount)


def deliveries_in(conn: Connection, states: Sequence[str], limit: int) -> list[Any]:
    return list(conn.execute(select(deliveries).where(deliveries.c.state.in_(list(states)))
                             .order_by(deliveries.c.created_at.desc()).limit(limit)))


def delivery(conn: Connection, delivery_id: str) -> Any:
    return conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()


def attempts_of(conn: Connection, delivery_id: str) -> list[Any]:
    return list(conn.execute(select(delivery_attempts).where(delivery_attempts.c.delivery_id == delivery_id)
                             .order_by(delivery_attempts.c.number)))


def counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(deliveries.c.state, func.count()).group_by(deliveries.c.state))
    return {state: int(n) for state, n in rows}


def retry(conn: Connection, delivery_id: str, now: datetime) -> bool:
    done = conn.execute(update(deliveries).where(deliveries.c.id == delivery_id, deliveries.c.state == "failed")
                        .values(state="pending", next_attempt_at=now, finished_at=None, leased_until=None))
    return bool(done.rowcount)


# -- webhook endpoints -------------------------------------------------------------------------


def insert_endpoint(conn: Connection, endpoint_id: str, url: str, signing: str, description: str, now: datetime) -> None:
    conn.execute(insert(webhook_endpoints).values(id=endpoint_id, url=url, signing=signing, secret_generation=1,
                                                  description=description, created_at=now))


def endpoints(conn: Connection, enabled_only: bool = False) -> list[Any]:
    query = select(webhook_endpoints).order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
    if enabled_only:
        query = query.where(webhook_endpoints.c.disabled_at.is_(None))
    return list(conn.execute(query))


def endpoint(conn: Connection, endpoint_id: str) -> Any:
    return conn.execute(select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)).first()


def set_endpoint(conn: Connection, endpoint_id: str, values: dict[str, Any]) -> bool:
    done = conn.execute(update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(**values))
    return bool(done.rowcount)


def disable_endpoint(conn: Connection, endpoint_id: str, reason: str, now: datetime) -> bool:
    """Disable an enabled endpoint (once: False if it already was)."""
    done = conn.execute(update(webhook_endpoints)
                        .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.disabled_at.is_(None))
                        .values(disabled_at=now, disabled_reason=reason))
    return bool(done.rowcount)

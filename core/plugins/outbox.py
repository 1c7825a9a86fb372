"""Events for plugins: written in the transaction of the change, delivered after it commits.

An event exists exactly when its change does (it rolls back with it), and it is delivered even if
the process stops right after the commit: the background worker (or the request itself, when
``PLUGIN_DISPATCH_INTERVAL`` is 0) leases pending events, delivers them and deletes them. An event
may be delivered twice after a crash, never lost before its delivery is tried; hooks are written to
be idempotent. A plugin whose call fails is not called again for that event: the failure is an
incident, and the plugin recomputes from the view at its next event.

NOTE: an event row holds references (the subject, the record), and for an employer's search its
criteria; never a value of a dossier: what a plugin receives is released when it is delivered.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection

from config.logging import exception_summary
from core.models import as_utc
from core.plugins import gateway
from core.plugins.models import plugin_events
from plugins.api import ContactRequestDecision, EmployerSearch

from core.runtime import after_commit

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger("dossier.plugins")
BATCH = 50
EMPLOYER_SEARCH = "dossier_employer_search_performed"
CONTACT_REQUEST_DECIDED = "dossier_contact_request_decided"
CONSENT_GRANTED = "dossier_consent_granted"


def emit(rt: Runtime, conn: Connection, event: str, subject_id: str | None = None, record_id: str | None = None,
         payload: dict[str, Any] | None = None) -> None:
    """Queue ``event`` in the caller's transaction, if any plugin listens to it."""
    if not rt.plugins.subscribers(event):
        return
    conn.execute(insert(plugin_events).values(event=event, subject_id=subject_id, record_id=record_id,
                                              payload=json.dumps(payload) if payload is not None else None,
                                              created_at=rt.clock()))
    # One delivery pass after the commit, however many events the transaction queued.
    after_commit(conn, rt.plugins.deliver_soon)


def dispatch_pending(rt: Runtime) -> int:
    """Deliver every pending event; return how many were delivered."""
    delivered = 0
    while True:
        now = rt.clock()
        with rt.transaction() as conn:
            query = (select(plugin_events.c.id).where(_free(now)).order_by(plugin_events.c.id).limit(BATCH))
            # Several dispatchers on PostgreSQL see different batches; SQLite has one writer anyway.
            ids = list(conn.execute(query.with_for_update(skip_locked=True)).scalars())
        if not ids:
            return delivered
        for event_id in ids:
            row = _lease(rt, event_id)
            if row is None:
                continue  # another dispatcher took it meanwhile
            try:
                _deliver(rt, row)
            except Exception as exc:  # noqa: BLE001 - one bad event must not hold up those behind it
                # NOTE: an event that cannot be delivered at all (a broken payload, a key that does not
                # open) is dropped with a log line naming it: retrying it would block the queue for ever.
                log.error("plugin event dropped", extra={"event_id": event_id, "event": row.event, "error": exception_summary(exc)})
            with rt.transaction() as conn:
                conn.execute(delete(plugin_events).where(plugin_events.c.id == event_id))
            delivered += 1


def _free(now: Any) -> Any:
    return or_(plugin_events.c.lease_until.is_(None), plugin_events.c.lease_until < now)


def _lease(rt: Runtime, event_id: int) -> Any:
    """Take one event for as long as its delivery may take, if no other dispatcher holds it."""
    now = rt.clock()
    lease = timedelta(seconds=rt.settings.PLUGIN_TIMEOUT * 4 + 30)
    with rt.transaction() as conn:
        taken = conn.execute(update(plugin_events).where(plugin_events.c.id == event_id, _free(now))
                             .values(lease_until=now + lease))
        if not taken.rowcount:
            return None
        return conn.execute(select(plugin_events).where(plugin_events.c.id == event_id)).one()


def _deliver(rt: Runtime, row: Any) -> None:
    occurred_at = as_utc(row.created_at)
    payload = json.loads(row.payload) if row.payload else {}
    if row.event == EMPLOYER_SEARCH:
        gateway.deliver_employer_search(rt, EmployerSearch(
            payload["search_id"], payload["employer_id"], payload.get("criteria", {}), int(payload["match_count"]), occurred_at,
        ))
    elif row.event == CONTACT_REQUEST_DECIDED:
        decision = ContactRequestDecision(payload["request_id"], payload["employer_id"], payload["decision"], occurred_at)
        gateway.deliver_subject_event(rt, row.event, row.subject_id, None, occurred_at, decision=decision)
    elif row.event == CONSENT_GRANTED:
        gateway.deliver_subject_event(rt, row.event, row.subject_id, None, occurred_at, purpose_granted=payload["purpose"])
    else:
        gateway.deliver_subject_event(rt, row.event, row.subject_id, row.record_id, occurred_at,
                                      record_category=payload.get("category"))


def employer_search_payload(search_id: str, employer_id: str, criteria: dict[str, Any], match_count: int) -> dict[str, Any]:
    return {"search_id": search_id, "employer_id": employer_id, "criteria": criteria, "match_count": match_count}


def contact_request_payload(request_id: str, employer_id: str, decision: str) -> dict[str, Any]:
    return {"request_id": request_id, "employer_id": employer_id, "decision": decision}


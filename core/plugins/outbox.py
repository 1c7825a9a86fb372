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
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection

from core.models import as_utc
from core.plugins import gateway
from core.plugins.models import plugin_events
from plugins.api import ContactRequestDecision, EmployerSearch

from core.runtime import after_commit

if TYPE_CHECKING:
    from core.runtime import Runtime

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
    after_commit(conn, lambda: _after_commit(rt))


def _after_commit(rt: Runtime) -> None:
    if rt.settings.PLUGIN_DISPATCH_INTERVAL == 0:
        dispatch_pending(rt)
    elif rt.plugins.worker is not None:
        rt.plugins.worker.wake()


def dispatch_pending(rt: Runtime) -> int:
    """Deliver every pending event; return how many were delivered."""
    delivered = 0
    lease = timedelta(seconds=rt.settings.PLUGIN_TIMEOUT * 4 + 30)
    while True:
        now = rt.clock()
        with rt.transaction() as conn:
            query = (select(plugin_events).where(or_(plugin_events.c.lease_until.is_(None), plugin_events.c.lease_until < now))
                     .order_by(plugin_events.c.id).limit(BATCH))
            # Several dispatchers on PostgreSQL take different batches; SQLite has one writer anyway.
            rows = conn.execute(query.with_for_update(skip_locked=True)).all()
            if rows:
                conn.execute(update(plugin_events).where(plugin_events.c.id.in_([r.id for r in rows])).values(lease_until=now + lease))
        if not rows:
            return delivered
        for row in rows:
            _deliver(rt, row)
            with rt.transaction() as conn:
                conn.execute(delete(plugin_events).where(plugin_events.c.id == row.id))
            delivered += 1


def _deliver(rt: Runtime, row: Any) -> None:
    occurred_at = as_utc(row.created_at)
    payload = json.loads(row.payload) if row.payload else {}
    if row.event == EMPLOYER_SEARCH:
        gateway.deliver_employer_search(rt, EmployerSearch(
            payload["search_id"], payload["employer_id"], payload.get("criteria", {}), int(payload["match_count"]), occurred_at,
        ))
    elif row.event == CONTACT_REQUEST_DECIDED:
        decision = ContactRequestDecision(payload["request_id"], payload["employer_id"], payload["decision"], occurred_at)
        gateway.deliver_subject_event(rt, row.event, row.subject_id, None, occurred_at, decision)
    elif row.event == CONSENT_GRANTED:
        gateway.deliver_subject_event(rt, row.event, row.subject_id, None, occurred_at, purpose_granted=payload["purpose"])
    else:
        gateway.deliver_subject_event(rt, row.event, row.subject_id, row.record_id, occurred_at)


def employer_search_payload(search_id: str, employer_id: str, criteria: dict[str, Any], match_count: int) -> dict[str, Any]:
    return {"search_id": search_id, "employer_id": employer_id, "criteria": criteria, "match_count": match_count}


def contact_request_payload(request_id: str, employer_id: str, decision: str) -> dict[str, Any]:
    return {"request_id": request_id, "employer_id": employer_id, "decision": decision}


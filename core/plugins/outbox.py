"""Events for plugins: written in the transaction of the change, delivered after it commits.

An event exists exactly when its change does (it rolls back with it), and it is delivered even if
the process stops right after the commit: the background worker (or the request itself, when
``PLUGIN_DISPATCH_INTERVAL`` is 0) leases pending events, delivers them through the gateway and
deletes them. An event may be delivered twice after a crash, never lost before its delivery is
tried; hooks are written to be idempotent. A plugin whose call fails is not called again for that
event: the failure is an incident, and the plugin recomputes from the view at its next event.

NOTE: an event row holds references (the subject, the record, the request that caused it), and
for an employer's search its criteria; never a value of a dossier: what a plugin receives is
released when it is delivered.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.engine import Connection

from config.logging import exception_summary
from core.models import as_utc
from core.plugins import hookspecs, store
from core.plugins.gateway import PluginGateway
from core.runtime import Runtime
from core.unit_of_work import after_commit
from plugins.api import ContactRequestDecision, EmployerSearch

log = logging.getLogger("dossier.plugins")
BATCH = 50
# How often a search waiting for events that another dispatcher holds looks again.
_SETTLE_POLL = 0.01


class Event(StrEnum):
    """The events of the outbox, named as their hooks (core.plugins.hookspecs)."""

    PROFILE_PUBLISHED = hookspecs.dossier_profile_published.__name__
    PROFILE_CHANGED = hookspecs.dossier_profile_changed.__name__
    ACTIVITY_RECORDED = hookspecs.dossier_activity_recorded.__name__
    CONTACT_RECORDED = hookspecs.dossier_contact_recorded.__name__
    CONSENT_GRANTED = hookspecs.dossier_consent_granted.__name__
    CONTACT_REQUEST_DECIDED = hookspecs.dossier_contact_request_decided.__name__
    EMPLOYER_SEARCH_PERFORMED = hookspecs.dossier_employer_search_performed.__name__

    @property
    def hook(self) -> Any:
        """The hook specification of this event."""
        return getattr(hookspecs, self.value)


def emit(rt: Runtime, plugins: PluginGateway, conn: Connection, event: Event, subject_id: str | None = None,
         record_id: str | None = None, payload: dict[str, Any] | None = None, request_id: str | None = None) -> None:
    """Queue ``event`` in the caller's transaction, if any plugin listens to it."""
    if not plugins.listens(event.hook):
        return
    store.queue_event(conn, event.value, subject_id, record_id, payload, request_id, rt.clock())
    # One delivery pass after the commit, however many events the transaction queued.
    after_commit(conn, lambda: deliver_soon(rt, plugins), once_as="plugin-events")


def forget_subject(conn: Connection, subject_id: str) -> None:
    """At an erasure, in its transaction: the events not yet delivered about the subject go. They
    would release nothing any more (the subject is erased), and they say in clear which record of
    which category the seeker had (docs/erasure.md)."""
    store.delete_subject_events(conn, subject_id)


def deliver_soon(rt: Runtime, plugins: PluginGateway) -> None:
    """After a commit that queued events: deliver them now (inline) or wake the worker."""
    if rt.settings.PLUGIN_DISPATCH_INTERVAL == 0:
        dispatch_pending(rt, plugins)
    elif plugins.worker is not None:
        plugins.worker.wake()


def settle(rt: Runtime, plugins: PluginGateway, events: tuple[Event, ...], wait: float) -> bool:
    """Deliver every event of ``events`` queued before now, or wait for another dispatcher to finish
    it, up to ``wait`` seconds: what a search needs so that a profile published (or changed) by a
    commit that finished before it is in every plugin's store. False if some were still pending."""
    deadline = time.monotonic() + wait
    with rt.engine.connect() as conn:
        last = store.last_event_id(conn, [e.value for e in events])
    if last is None:
        return True
    while True:
        with rt.engine.connect() as conn:
            pending = store.events_up_to(conn, [e.value for e in events], last)
        if not pending:
            return True
        dispatch_pending(rt, plugins)
        if time.monotonic() >= deadline:
            return False
        time.sleep(_SETTLE_POLL)


def dispatch_pending(rt: Runtime, plugins: PluginGateway) -> int:
    """Deliver every pending event; return how many were delivered."""
    delivered = 0
    lease = timedelta(seconds=rt.settings.PLUGIN_TIMEOUT * 4 + 30)
    while True:
        with rt.transaction() as conn:
            ids = store.pending_events(conn, rt.clock(), BATCH)
        if not ids:
            return delivered
        for event_id in ids:
            with rt.transaction() as conn:
                row = store.lease_event(conn, event_id, rt.clock(), lease)
            if row is None:
                continue  # another dispatcher took it meanwhile
            try:
                _deliver(plugins, row)
            except Exception as exc:
                # NOTE: an event that cannot be delivered at all (a broken payload, a key that does not
                # open) is dropped with a log line naming it: retrying it would block the queue for ever.
                log.error("plugin event dropped", extra={"event_id": event_id, "event": row.event, "error": exception_summary(exc)})
            with rt.transaction() as conn:
                store.delete_event(conn, event_id)
            delivered += 1


def _deliver(plugins: PluginGateway, row: Any) -> None:
    occurred_at: datetime = as_utc(row.created_at)
    payload = json.loads(row.payload) if row.payload else {}
    event, subject_id, request_id = Event(row.event), row.subject_id, row.request_id
    if event is Event.EMPLOYER_SEARCH_PERFORMED:
        plugins.employer_search_performed(EmployerSearch(
            payload["search_id"], payload["employer_id"], payload.get("criteria", {}), int(payload["match_count"]), occurred_at,
        ))
    elif event is Event.CONTACT_REQUEST_DECIDED:
        decision = ContactRequestDecision(payload["request_id"], payload["employer_id"], payload["decision"], occurred_at)
        plugins.contact_request_decided(subject_id, decision, request_id)
    elif event is Event.CONSENT_GRANTED:
        plugins.consent_granted(subject_id, payload["purpose"], occurred_at, request_id)
    elif event is Event.PROFILE_PUBLISHED:
        plugins.profile_published(subject_id, occurred_at, request_id)
    elif event is Event.PROFILE_CHANGED:
        plugins.profile_changed(subject_id, occurred_at, request_id)
    elif event is Event.ACTIVITY_RECORDED:
        plugins.activity_recorded(subject_id, row.record_id, payload["category"], occurred_at, request_id)
    else:
        plugins.contact_recorded(subject_id, row.record_id, occurred_at, request_id)


def employer_search_payload(search_id: str, employer_id: str, criteria: dict[str, Any], match_count: int) -> dict[str, Any]:
    return {"search_id": search_id, "employer_id": employer_id, "criteria": criteria, "match_count": match_count}


def contact_request_payload(request_id: str, employer_id: str, decision: str) -> dict[str, Any]:
    return {"request_id": request_id, "employer_id": employer_id, "decision": decision}

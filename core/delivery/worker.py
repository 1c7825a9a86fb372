"""Sending what the outbox holds: at least once, on the published retry schedule.

A worker claims a batch of due deliveries (a lease of ``DELIVERY_LEASE_SECONDS``, taken with
``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of workers share the queue),
sends each outside any transaction, then records the attempt and closes or reschedules the
delivery. A worker killed between sending and recording leaves the lease to run out: the delivery
is sent again, with the same id, and the receiver de-duplicates on it. So a delivery may arrive
twice, and is never lost.

After a failed attempt the next comes ``DELIVERY_RETRY_SCHEDULE[n]`` seconds later; when the
schedule runs out the delivery has failed, and a webhook endpoint that failed that long is
disabled. A 410 Gone disables the endpoint at once; a permanent SMTP refusal (5xx) fails the
e-mail at once. Admins see and retry failures (``dossier deliveries``, ``GET /api/v1/deliveries``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.background import ElectedWorker
from core.crypto import standard_webhooks
from core.delivery import email, store, webhooks
from core.delivery.service import AlertDesk, alert_link
from core.identity.signing import KeyUse
from core.models import as_utc
from core.runtime import Runtime

log = logging.getLogger("dossier.delivery")
LOCK_FILE = "delivery-worker.lock"


# Results are recorded together, at most this many, or this many seconds apart: one commit for
# many deliveries (a commit per delivery would cap a worker at the database's commit rate).
RECORD_EVERY = 50
RECORD_SECONDS = 1.0


@dataclass(frozen=True)
class _Result:
    """One attempt, as it is recorded."""

    row: Any
    started: datetime
    duration_ms: int
    delivered: bool
    permanent: bool
    status: int | None
    outcome: str
    gone: bool


def deliver_due(rt: Runtime, limit: int | None = None) -> int:
    """Send every delivery due now, batch by batch; how many attempts were made."""
    made = 0
    batch = limit or rt.settings.DELIVERY_BATCH
    # One sender for the pass: connections to an endpoint are kept open between its deliveries.
    with webhooks.Sender(rt.settings.WEBHOOK_TIMEOUT) as client:
        while True:
            now = rt.clock()
            lease = now + timedelta(seconds=rt.settings.DELIVERY_LEASE_SECONDS)
            with rt.transaction() as conn:
                claimed = store.claim(conn, now, lease, batch)
            made += _send_batch(rt, client, claimed, lease)
            if len(claimed) < batch or limit is not None:
                return made


@dataclass
class _Batch:
    """What the claimed deliveries need, read once for all of them: their alerts, the endpoints,
    the advisors e-mailed; and the endpoints that answered 410 during the batch."""

    alerts: dict[str, Any]
    endpoints: dict[str, Any]
    advisors: dict[str, Any]
    gone: set[str] = field(default_factory=set)


def _send_batch(rt: Runtime, client: webhooks.Sender, claimed: list[Any], lease: datetime) -> int:
    """Send what was claimed, recording as it goes; what the lease would not cover goes back."""
    # After the first, a delivery is started only if it can end (its timeout) within the lease.
    margin = timedelta(seconds=max(rt.settings.WEBHOOK_TIMEOUT, rt.settings.SMTP_TIMEOUT) + 1)
    with rt.engine.connect() as conn:
        batch = _Batch(store.alerts_by_id(conn, [r.alert_id for r in claimed]), {e.id: e for e in store.endpoints(conn)},
                       store.advisors_by_id(conn, [r.target for r in claimed if r.channel == "email"]))
    results: list[_Result] = []
    flushed_at = time.monotonic()
    sent = 0
    for position, row in enumerate(claimed):
        if position and rt.clock() + margin > lease:
            with rt.transaction() as conn:
                store.release(conn, [r.id for r in claimed[position:]], lease)
            break
        result = _attempt(rt, client, batch, row)
        if result.gone:
            batch.gone.add(row.target)
        results.append(result)
        sent += 1
        if len(results) >= RECORD_EVERY or time.monotonic() - flushed_at >= RECORD_SECONDS:
            _record(rt, results, lease)
            results, flushed_at = [], time.monotonic()
    if results:
        _record(rt, results, lease)
    return sent


def _attempt(rt: Runtime, client: webhooks.Sender, batch: _Batch, row: Any) -> _Result:
    started = rt.clock()
    began = time.perf_counter()
    if row.channel == "email":
        delivered, permanent, status, outcome, gone = _email(rt, batch, row, started)
    else:
        delivered, permanent, status, outcome, gone = _webhook(rt, client, batch, row, started)
    duration = int((time.perf_counter() - began) * 1000)
    if not delivered:
        log.info("delivery attempt failed", extra={"delivery_id": row.id, "channel": row.channel, "attempt": row.attempts,
                                                   "outcome": outcome})
    return _Result(row, started, duration, delivered, permanent, status, outcome, gone)


def _record(rt: Runtime, results: list[_Result], lease: datetime) -> None:
    """The attempts, and each delivery closed or rescheduled, in one transaction."""
    now = rt.clock()
    schedule = rt.settings.DELIVERY_RETRY_SCHEDULE
    with rt.transaction() as conn:
        store.record_attempts(conn, [(r.row.id, r.row.attempts, r.started, r.duration_ms, r.delivered, r.status, r.outcome)
                                     for r in results])
        delivered = [(r.row.id, r.outcome) for r in results if r.delivered]
        if delivered:
            store.finish_delivered(conn, lease, delivered, now)
        for r in results:
            if r.delivered:
                continue
            if r.permanent or r.gone or r.row.attempts > len(schedule):
                values: dict[str, Any] = {"state": "failed", "finished_at": now, "last_outcome": r.outcome}
            else:
                values = {"next_attempt_at": now + timedelta(seconds=float(schedule[r.row.attempts - 1])), "last_outcome": r.outcome}
            if not store.finish(conn, r.row.id, lease, values):
                # Another worker took it over after our lease ran out; the attempt is recorded all the same.
                log.warning("delivery lease lost", extra={"delivery_id": r.row.id})
                continue
            if r.row.channel == "webhook" and values.get("state") == "failed" and not r.permanent:
                reason = "gone_410" if r.gone else "retries_exhausted"
                if store.disable_endpoint(conn, r.row.target, reason, now):
                    store.fail_pending_to(conn, r.row.target, "endpoint_disabled", now)
                    log.warning("webhook endpoint disabled", extra={"endpoint_id": r.row.target, "reason": reason})


def _email(rt: Runtime, batch: _Batch, row: Any, at: datetime) -> tuple[bool, bool, int | None, str, bool]:
    advisor, alert = batch.advisors.get(row.target), batch.alerts.get(row.alert_id)
    if not email.enabled(rt.settings):
        return False, True, None, "email_not_configured", False
    if advisor is None or not advisor.email or alert is None:
        return False, True, None, "no_address", False
    content = json.loads(alert.content)
    mail = email.message(rt.settings, row.id, email.letter(advisor.email, content, alert_link(rt, alert.id)), at)
    sent = email.send(rt.settings, mail)
    return sent.delivered, sent.permanent, sent.code, sent.outcome, False


def _webhook(rt: Runtime, client: webhooks.Sender, batch: _Batch, row: Any, at: datetime) -> tuple[bool, bool, int | None, str, bool]:
    endpoint, alert = batch.endpoints.get(row.target), batch.alerts.get(row.alert_id)
    if endpoint is None or endpoint.disabled_at is not None or row.target in batch.gone:
        return False, True, None, "endpoint_disabled", False
    if alert is None:
        return False, True, None, "alert_gone", False
    body = webhooks.payload(row.event_type, at, thin_data(rt, alert))
    timestamp = int(at.timestamp())
    signature = _signature(rt, endpoint, row.id, timestamp, body, at)
    answer = client.post(endpoint.url, row.id, body, signature, timestamp)
    return answer.delivered, False, answer.status, answer.outcome, answer.gone


def thin_data(rt: Runtime, alert: Any) -> dict[str, Any]:
    """What a webhook says of an alert: references and counts (a receiver reads the rest with
    ``GET /api/v1/alerts/{id}`` as the advisor); never a seeker, nor the advisor's address."""
    return {
        "alert_id": alert.id, "kind": alert.kind, "advisor_id": alert.advisor_id, "employer_id": alert.employer_id,
        "search_id": alert.search_id, "match_count": alert.match_count, "no_match": bool(alert.no_match),
        "occurrences": alert.occurrences, "created_at": as_utc(alert.created_at).isoformat(), "url": alert_link(rt, alert.id),
    }


def _signature(rt: Runtime, endpoint: Any, message_id: str, timestamp: int, body: bytes, at: datetime) -> str:
    if endpoint.signing == "ed25519":
        key = rt.signing.key(KeyUse.WEBHOOK).private_key
        if not isinstance(key, Ed25519PrivateKey):
            raise TypeError("the webhook signing key is not an Ed25519 key")
        return standard_webhooks.signature_header(message_id, timestamp, body, ed25519=key)
    generations = [endpoint.secret_generation]
    if endpoint.previous_until is not None and as_utc(endpoint.previous_until) > at and endpoint.secret_generation > 1:
        generations.append(endpoint.secret_generation - 1)
    master = rt.keys.webhook_key()
    secrets = tuple(webhooks.endpoint_secret(master, endpoint.id, g) for g in generations)
    return standard_webhooks.signature_header(message_id, timestamp, body, secrets=secrets)


def start_background_delivery(rt: Runtime, desk: AlertDesk) -> ElectedWorker | None:
    """The server's delivery thread (one worker process of the instance sends), unless
    ``DELIVERY_IN_SERVER`` is off (``dossier worker`` processes send instead)."""
    if not rt.settings.DELIVERY_IN_SERVER:
        return None
    interval = rt.settings.DELIVERY_INTERVAL or 5.0
    worker = ElectedWorker("delivery-worker", rt.settings.instance_path / LOCK_FILE, interval, lambda: deliver_due(rt))
    desk.worker = worker
    return worker

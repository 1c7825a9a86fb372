"""The delivery service: plugins ask it to alert advisors; it keeps the alert in the advisor's
inbox and queues its deliveries (e-mail, webhooks) in the same transaction, and a worker sends
them after the commit (core.delivery.worker).

So nothing leaves the service unrecorded, and no plugin holds an address, a credential or a
socket: a plugin names an advisor by id and says what to tell them; the service looks up where
to, signs, sends, retries and records each attempt. Every alert queued is an audit entry (the
plugin, the kind and the channels; never a value).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from flask import Flask, current_app
from sqlalchemy.engine import Connection

from core.access import record, require_role
from core.background import ElectedWorker
from core.delivery import email, store
from core.crypto.standard_webhooks import secret_text
from core.delivery.webhooks import EndpointError, check_url, endpoint_secret
from core.errors import InvalidInput, NotFound
from core.identity.accounts import check_email
from core.identity.roles import Actor, Role, plugin_actor
from core.models import as_utc, new_id
from core.policy import Action, Decision
from core.runtime import Runtime
from core.unit_of_work import after_commit
from plugins.api import Advisor, Alert

log = logging.getLogger("dossier.delivery")

KINDS = ("employer_search", "digest")
MAX_TEXT = 4000
MAX_TITLE = 200
MAX_CONTENT_BYTES = 32 * 1024
MAX_GROUP_MINUTES = 7 * 24 * 60
DIGESTS = ("none", "daily", "weekly")
EVENT_PREFIX = "alert."
ALERT_DESK = "dossier.alerts"


@dataclass(frozen=True)
class AlertView:
    """An alert as its advisor reads it."""

    id: str
    kind: str
    employer_id: str | None
    search_id: str | None
    created_at: datetime
    last_at: datetime
    occurrences: int
    criteria: dict[str, Any]
    match_count: int | None
    no_match: bool
    read: bool
    read_at: datetime | None
    title: dict[str, str]
    text: dict[str, str]
    link: str


@dataclass(frozen=True)
class AlertPage:
    alerts: list[AlertView]
    total: int
    unread: int
    limit: int
    offset: int


class AlertDesk:
    """What plugins' contexts call (``advisors``, ``send_alert``), and the wake-up of the sender."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        # The server's delivery thread in this process, when one runs (start_background_delivery).
        self.worker: ElectedWorker | None = None
        self.deliver_now: Callable[[], object] | None = None

    def advisors(self, employer_id: str | None = None) -> tuple[Advisor, ...]:
        with self._rt.engine.connect() as conn:
            rows = store.advisors(conn, employer_id)
        by_advisor: dict[str, tuple[dict[str, str], str]] = {}
        for advisor_id, employer, name, digest in rows:
            by_advisor.setdefault(advisor_id, ({}, digest))[0][employer] = name
        return tuple(Advisor(advisor_id, tuple(names), digest, MappingProxyType(names))
                     for advisor_id, (names, digest) in by_advisor.items())

    def send_alert(self, plugin: str, alert: Alert) -> str:
        """Keep ``alert`` and queue its deliveries, in one transaction; its id (the same id again for
        a key already used). ``ValueError`` for an alert that cannot be sent."""
        _check(alert)
        rt = self._rt
        content = _content(alert)
        with rt.transaction() as conn:
            known = store.alert_of_key(conn, plugin, alert.key)
            if known is not None:
                return known
            advisor = store.advisor(conn, alert.advisor)
            if advisor is None:
                raise ValueError("the alert names no enabled advisor")
            now = rt.clock()
            grouped = store.open_group(conn, alert.advisor, plugin, alert.group, now) if alert.group else None
            fields = {"search_id": alert.search_id, "match_count": alert.match_count, "no_match": alert.no_match,
                      "content": content, "last_at": now}
            if grouped is not None:
                store.count_again(conn, grouped.id, fields)
                store.insert_key(conn, plugin, alert.key, grouped.id, now)
                return str(grouped.id)
            alert_id = new_id()
            until = now + timedelta(minutes=alert.group_minutes) if alert.group and alert.group_minutes else None
            store.insert_alert(conn, {**fields, "id": alert_id, "advisor_id": alert.advisor, "plugin": plugin, "kind": alert.kind,
                                      "employer_id": alert.employer_id, "group_key": alert.group if until else None,
                                      "group_until": until, "occurrences": 1, "created_at": now, "read_at": None})
            store.insert_key(conn, plugin, alert.key, alert_id, now)
            channels = ["inbox", *self._queue_deliveries(conn, alert_id, alert, advisor, now)]
            record(conn, plugin_actor(plugin), Decision.recorded(Action.ALERT_SEND, None, (), f"{alert.kind}:{'+'.join(channels)}"),
                   now)
            after_commit(conn, self.deliver_soon, once_as="deliveries")
        return alert_id

    def _queue_deliveries(self, conn: Connection, alert_id: str, alert: Alert, advisor: Any, now: datetime) -> list[str]:
        event_type = EVENT_PREFIX + alert.kind
        channels = []
        # A digest is the advisor's choice of a digest by e-mail; other alerts go by e-mail if they chose so.
        wants_email = advisor.alert_digest != "none" if alert.kind == "digest" else bool(advisor.email_alerts)
        if email.enabled(self._rt.settings) and advisor.email and wants_email:
            store.queue(conn, alert_id, "email", alert.advisor, event_type, now)
            channels.append("email")
        endpoints = store.endpoints(conn, enabled_only=True)
        for endpoint in endpoints:
            store.queue(conn, alert_id, "webhook", endpoint.id, event_type, now)
        if endpoints:
            channels.append("webhook")
        return channels

    def deliver_soon(self) -> None:
        """After a commit that queued deliveries: send them now (inline) or wake the worker."""
        if self._rt.settings.DELIVERY_INTERVAL == 0 and self.deliver_now is not None:
            self.deliver_now()
        elif self.worker is not None:
            self.worker.wake()


def alert_desk(app: Flask | None = None) -> AlertDesk:
    """The desk of ``app`` (default: the current app)."""
    desk: AlertDesk = (app or current_app).extensions[ALERT_DESK]
    return desk


def _check(alert: Alert) -> None:
    if not isinstance(alert, Alert):
        raise ValueError("send_alert takes a plugins.api.Alert")
    if alert.kind not in KINDS:
        raise ValueError(f"an alert's kind is one of {', '.join(KINDS)}")
    if not isinstance(alert.key, str) or not 0 < len(alert.key) <= 200:
        raise ValueError("an alert's key is a string of 1 to 200 characters")
    if alert.group is not None and (not isinstance(alert.group, str) or not 0 < len(alert.group) <= 200):
        raise ValueError("an alert's group is a string of 1 to 200 characters")
    if type(alert.group_minutes) is not int or not 0 <= alert.group_minutes <= MAX_GROUP_MINUTES:
        raise ValueError(f"group_minutes is a whole number from 0 to {MAX_GROUP_MINUTES}")
    for name, limit in (("title_fr", MAX_TITLE), ("title_en", MAX_TITLE), ("text_fr", MAX_TEXT), ("text_en", MAX_TEXT)):
        value = getattr(alert, name)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise ValueError(f"an alert's {name} is a text of 1 to {limit} characters")
    if alert.match_count is not None and (type(alert.match_count) is not int or alert.match_count < 0):
        raise ValueError("match_count is a whole number, 0 or more")


def _content(alert: Alert) -> str:
    try:
        content = json.dumps({"title_fr": alert.title_fr, "title_en": alert.title_en, "text_fr": alert.text_fr,
                              "text_en": alert.text_en, "criteria": _plain(alert.criteria)},
                             ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        raise ValueError("an alert's criteria are JSON: objects, lists, strings, numbers, booleans") from None
    if len(content.encode()) > MAX_CONTENT_BYTES:
        raise ValueError(f"an alert holds at most {MAX_CONTENT_BYTES} bytes")
    return content


def _plain(value: Any) -> Any:
    """Mappings and sequences as JSON's objects and lists (the event's criteria come frozen)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    raise TypeError(type(value).__name__)


# -- the inbox ---------------------------------------------------------------------------------


def alert_link(rt: Runtime, alert_id: str) -> str:
    return f"{rt.settings.PUBLIC_URL.rstrip('/')}/api/v1/alerts/{alert_id}"


def alert_view(rt: Runtime, row: Any) -> AlertView:
    content = json.loads(row.content)
    return AlertView(
        row.id, row.kind, row.employer_id, row.search_id, as_utc(row.created_at), as_utc(row.last_at), row.occurrences,
        content.get("criteria") or {}, row.match_count, bool(row.no_match), row.read_at is not None,
        as_utc(row.read_at) if row.read_at else None, {"fr": content["title_fr"], "en": content["title_en"]},
        {"fr": content["text_fr"], "en": content["text_en"]}, alert_link(rt, row.id),
    )


def list_alerts(rt: Runtime, actor: Actor, *, unread: bool | None = None, employer_id: str | None = None,
                no_match: bool | None = None, kind: str | None = None, limit: int = 50, offset: int = 0) -> AlertPage:
    """The caller's own alerts, the latest first (an advisor sees no other advisor's)."""
    require_role(actor, Role.ADVISOR)
    with rt.engine.connect() as conn:
        rows, total = store.alerts_of(conn, actor.account_id, unread=unread, employer_id=employer_id, no_match=no_match,
                                      kind=kind, limit=limit, offset=offset)
        _, unread_count = store.alerts_of(conn, actor.account_id, unread=True, employer_id=None, no_match=None, kind=None,
                                          limit=0, offset=0)
    return AlertPage([alert_view(rt, row) for row in rows], total, unread_count, limit, offset)


def get_alert(rt: Runtime, actor: Actor, alert_id: str) -> AlertView:
    require_role(actor, Role.ADVISOR)
    with rt.engine.connect() as conn:
        row = store.alert(conn, alert_id)
    if row is None or row.advisor_id != actor.account_id:
        raise NotFound()
    return alert_view(rt, row)


def mark_alert(rt: Runtime, actor: Actor, alert_id: str, read: bool) -> AlertView:
    """Mark one of the caller's alerts read (or unread again)."""
    require_role(actor, Role.ADVISOR)
    with rt.transaction() as conn:
        if not store.mark(conn, actor.account_id, alert_id, rt.clock() if read else None):
            raise NotFound()
        row = store.alert(conn, alert_id)
    return alert_view(rt, row)


# -- preferences -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preferences:
    email: str | None
    email_alerts: bool
    digest: str


def preferences(rt: Runtime, account_id: str) -> Preferences:
    with rt.engine.connect() as conn:
        row = store.advisor(conn, account_id)
    if row is None:
        raise NotFound()
    return Preferences(row.email, bool(row.email_alerts), row.alert_digest)


def set_preferences(rt: Runtime, account_id: str, changes: dict[str, Any]) -> Preferences:
    """Change an advisor's work e-mail address (None removes it), e-mail alerts and digest."""
    values: dict[str, Any] = {}
    if "email" in changes:
        try:
            values["email"] = check_email(changes["email"]) if changes["email"] is not None else None
        except ValueError as exc:
            raise InvalidInput(str(exc), field="email") from None
    if "email_alerts" in changes:
        values["email_alerts"] = bool(changes["email_alerts"])
    if "digest" in changes:
        if changes["digest"] not in DIGESTS:
            raise InvalidInput(f"digest is one of {', '.join(DIGESTS)}", field="digest")
        values["alert_digest"] = changes["digest"]
    with rt.transaction() as conn:
        if store.advisor(conn, account_id) is None:
            raise NotFound()
        if values:
            store.set_preferences(conn, account_id, values)
    return preferences(rt, account_id)


# -- webhook endpoints (admins) ----------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    signing: str
    description: str
    created_at: datetime
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(row.id, row.url, row.signing, row.description, as_utc(row.created_at), row.disabled_at is None,
                    as_utc(row.disabled_at) if row.disabled_at else None, row.disabled_reason)


def add_endpoint(rt: Runtime, url: str, hmac: bool = False, description: str = "") -> tuple[Endpoint, str | None]:
    """Register ``url``; with ``hmac``, also its secret (shown once: it is derived, never stored)."""
    try:
        check_url(url)
    except EndpointError as exc:
        raise ValueError(str(exc)) from None
    if len(description) > 200:
        raise ValueError("a description is at most 200 characters")
    endpoint_id = new_id()
    with rt.transaction() as conn:
        store.insert_endpoint(conn, endpoint_id, url, "hmac" if hmac else "ed25519", description, rt.clock())
        row = store.endpoint(conn, endpoint_id)
    secret = secret_text(endpoint_secret(rt.keys.webhook_key(), endpoint_id, 1)) if hmac else None
    return _endpoint(row), secret


def list_endpoints(rt: Runtime) -> list[Endpoint]:
    with rt.engine.connect() as conn:
        return [_endpoint(row) for row in store.endpoints(conn)]


def set_endpoint_enabled(rt: Runtime, endpoint_id: str, enabled: bool) -> Endpoint:
    now = rt.clock()
    with rt.transaction() as conn:
        if store.endpoint(conn, endpoint_id) is None:
            raise NotFound()
        if enabled:
            store.set_endpoint(conn, endpoint_id, {"disabled_at": None, "disabled_reason": None})
        elif store.disable_endpoint(conn, endpoint_id, "disabled_by_admin", now):
            store.fail_pending_to(conn, endpoint_id, "endpoint_disabled", now)
        row = store.endpoint(conn, endpoint_id)
    return _endpoint(row)


def rotate_secret(rt: Runtime, endpoint_id: str) -> tuple[Endpoint, str]:
    """A new secret for an HMAC endpoint; the previous one still signs for ``SECRET_OVERLAP``."""
    from core.delivery.webhooks import SECRET_OVERLAP

    with rt.transaction() as conn:
        row = store.endpoint(conn, endpoint_id)
        if row is None:
            raise NotFound()
        if row.signing != "hmac":
            raise ValueError("only an endpoint registered with --hmac has a secret (the others are signed Ed25519)")
        generation = row.secret_generation + 1
        store.set_endpoint(conn, endpoint_id, {"secret_generation": generation, "previous_until": rt.clock() + SECRET_OVERLAP})
        row = store.endpoint(conn, endpoint_id)
    return _endpoint(row), secret_text(endpoint_secret(rt.keys.webhook_key(), endpoint_id, generation))


# -- what is pending, failed and disabled (admins) ---------------------------------------------


@dataclass(frozen=True)
class Attempt:
    number: int
    started_at: datetime
    duration_ms: int
    succeeded: bool
    status_code: int | None
    outcome: str


@dataclass(frozen=True)
class DeliveryView:
    id: str
    alert_id: str
    channel: str
    target: str
    event_type: str
    state: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    finished_at: datetime | None
    last_outcome: str | None
    history: list[Attempt]


@dataclass(frozen=True)
class Overview:
    counts: dict[str, int]
    deliveries: list[DeliveryView]
    endpoints: list[Endpoint]


def overview(rt: Runtime, state: str | None = None, limit: int = 100) -> Overview:
    """The counts by state, the latest deliveries (pending and failed unless ``state`` says) with
    their attempts, and every endpoint with whether it is disabled and why."""
    with rt.engine.connect() as conn:
        rows = store.deliveries_in(conn, [state] if state else ["pending", "failed"], limit)
        found = [DeliveryView(
            r.id, r.alert_id, r.channel, r.target, r.event_type, r.state, r.attempts, as_utc(r.next_attempt_at),
            as_utc(r.created_at), as_utc(r.finished_at) if r.finished_at else None, r.last_outcome,
            [Attempt(a.number, as_utc(a.started_at), a.duration_ms, bool(a.succeeded), a.status_code, a.outcome)
             for a in store.attempts_of(conn, r.id)]) for r in rows]
        counts = {name: 0 for name in ("pending", "delivered", "failed")} | store.counts(conn)
        endpoints = [_endpoint(row) for row in store.endpoints(conn)]
    return Overview(counts, found, endpoints)


def retry_delivery(rt: Runtime, delivery_id: str) -> None:
    """Send a failed delivery again now (its endpoint enabled again first, if it is a webhook's)."""
    with rt.transaction() as conn:
        row = store.delivery(conn, delivery_id)
        if row is None:
            raise NotFound()
        if row.state != "failed":
            raise InvalidInput("only a failed delivery is retried; a pending one is sent on its schedule")
        if row.channel == "webhook":
            endpoint = store.endpoint(conn, row.target)
            if endpoint is not None and endpoint.disabled_at is not None:
                raise InvalidInput("its webhook endpoint is disabled: enable it first (dossier webhooks enable ID)")
        store.retry(conn, delivery_id, rt.clock())  # the next pass of a worker sends it

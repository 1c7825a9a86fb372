"""Tables of the delivery service: advisors' alerts (the inbox), the outbox, its attempts, and
the webhook endpoints an admin registered.

NOTE: no table here holds a seeker's data. An alert holds an employer's search criteria (codes,
labels, numbers) and counts; an outbox row names what it delivers (an alert) and where (an
account for e-mail, an endpoint for a webhook), and its body is made when it is sent. Advisors'
work e-mail addresses are on their accounts (core.models), the HMAC secrets of webhooks derived
from the keyring (core.delivery.webhooks): none of them is here.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.models import UUID_LENGTH, Base

KIND_LENGTH = 40
KEY_LENGTH = 200
GROUP_LENGTH = 200
OUTCOME_LENGTH = 120
URL_LENGTH = 2000


class Alert(Base):
    """An alert in an advisor's inbox, sent by a plugin (``plugin``), of a ``kind`` it names.

    Alerts of one advisor, plugin and ``group_key`` that come within the group's window of the
    first are one alert: ``occurrences`` counts them, ``last_at`` is the latest, and ``content``
    (JSON: titles and texts in French and English, the criteria, the link) is the latest's.
    """

    __tablename__ = "alerts"
    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    advisor_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    plugin: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    employer_id: Mapped[str | None] = mapped_column(ForeignKey("employers.id"))
    search_id: Mapped[str | None] = mapped_column(String(UUID_LENGTH))
    match_count: Mapped[int | None] = mapped_column(Integer)
    no_match: Mapped[bool] = mapped_column(Boolean)
    content: Mapped[str] = mapped_column(Text)
    group_key: Mapped[str | None] = mapped_column(String(GROUP_LENGTH))
    group_until: Mapped[datetime | None] = mapped_column()
    occurrences: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column()
    last_at: Mapped[datetime] = mapped_column()
    read_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        Index("ix_alerts_advisor", "advisor_id", "last_at"),
        Index("ix_alerts_group", "advisor_id", "plugin", "group_key"),
    )


class AlertKey(Base):
    """A plugin's idempotency key for an alert it asked for: asking again (an event delivered twice
    after a crash) finds the alert it made, and changes nothing."""

    __tablename__ = "alert_keys"
    plugin: Mapped[str] = mapped_column(String(63), primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column()


class Delivery(Base):
    """One message to send, stored in the transaction that caused it: an alert to an advisor's
    e-mail (``channel`` email, ``target`` the account) or to a webhook endpoint (``target`` the
    endpoint). ``id`` is stable across attempts: receivers de-duplicate on it (``webhook-id``,
    ``Message-ID``).

    ``state``: ``pending`` (``next_attempt_at`` says when; a worker sending it holds it until
    ``leased_until``), ``delivered``, ``failed`` (the schedule ran out, or the recipient cannot
    receive: no address, an endpoint disabled).
    """

    __tablename__ = "deliveries"
    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(UUID_LENGTH))
    event_type: Mapped[str] = mapped_column(String(KIND_LENGTH + 20))
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column()
    leased_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    last_outcome: Mapped[str | None] = mapped_column(String(OUTCOME_LENGTH))

    __table_args__ = (
        CheckConstraint("channel IN ('email','webhook')", name="channel"),
        CheckConstraint("state IN ('pending','delivered','failed')", name="state"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        Index("ix_deliveries_alert", "alert_id"),
    )


class DeliveryAttempt(Base):
    """One try of a delivery: when, how long, and what came back (a status, or the error's kind;
    never a body)."""

    __tablename__ = "delivery_attempts"
    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column()
    duration_ms: Mapped[int] = mapped_column(Integer)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(OUTCOME_LENGTH))

    __table_args__ = (Index("ix_delivery_attempts_delivery", "delivery_id", "number"),)


class WebhookEndpoint(Base):
    """A URL an admin registered to receive alerts, signed per the Standard Webhooks specification:
    ``signing`` ``ed25519`` (``v1a``, the public key in the JWKS) or ``hmac`` (``v1``, a secret per
    endpoint derived from the keyring at ``secret_generation``; the previous generation also signs
    until ``previous_until``, for a receiver changing secrets). ``disabled_at`` and its reason: an
    admin's act, a 410 Gone, or the retry schedule running out."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    signing: Mapped[str] = mapped_column(String(10))
    secret_generation: Mapped[int] = mapped_column(Integer)
    previous_until: Mapped[datetime | None] = mapped_column()
    description: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column()
    disabled_at: Mapped[datetime | None] = mapped_column()
    disabled_reason: Mapped[str | None] = mapped_column(String(OUTCOME_LENGTH))

    __table_args__ = (CheckConstraint("signing IN ('ed25519','hmac')", name="signing"),)


alerts = cast(Table, Alert.__table__)
alert_keys = cast(Table, AlertKey.__table__)
deliveries = cast(Table, Delivery.__table__)
delivery_attempts = cast(Table, DeliveryAttempt.__table__)
webhook_endpoints = cast(Table, WebhookEndpoint.__table__)

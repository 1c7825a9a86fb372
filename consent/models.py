"""Tables of the purpose catalogue and of consent (history and current state).

Consent records name purposes, states and times, never dossier values. The history
(``consent_events``) is append-only; ``consent_states`` holds the current state per subject and
purpose so that a decision reads one row, and is written in the same transaction as the event.
"""

from __future__ import annotations

from datetime import datetime

from typing import cast

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.models import UUID_LENGTH, Base, new_id, utcnow


class PurposeRow(Base):
    """A purpose of processing: its legal basis, categories, recipients and retention."""

    __tablename__ = "purposes"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    legal_basis: Mapped[str] = mapped_column(String(20))
    categories: Mapped[str] = mapped_column(Text)  # JSON list of category names
    recipients: Mapped[str] = mapped_column(Text)  # JSON list
    retention_days: Mapped[int] = mapped_column(Integer)
    current_notice_version: Mapped[int] = mapped_column(Integer)
    # Consents given under an older notice than this are no longer live (a material change).
    min_notice_version: Mapped[int] = mapped_column(Integer, default=1)
    # Given only by accepting a request (employer.contact), never through the consents endpoint.
    per_request: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(64), default="core")

    __table_args__ = (CheckConstraint("legal_basis IN ('consent','legal_obligation','public_task')", name="legal_basis"),)


class PurposeNotice(Base):
    """One version of the text a seeker reads before agreeing. Published versions never change."""

    __tablename__ = "purpose_notices"
    purpose: Mapped[str] = mapped_column(ForeignKey("purposes.name"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    material: Mapped[bool] = mapped_column(Boolean, default=False)
    text_fr: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentEvent(Base):
    """One grant or withdrawal, as given: by whom, through which channel, under which notice."""

    __tablename__ = "consent_events"
    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True, default=new_id)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"))
    purpose: Mapped[str] = mapped_column(ForeignKey("purposes.name"))
    state: Mapped[str] = mapped_column(String(20))
    notice_version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))
    recorded_by: Mapped[str] = mapped_column(String(UUID_LENGTH))
    recorded_by_role: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    receipt_jws: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("state IN ('granted','withdrawn')", name="state"),
        CheckConstraint("channel IN ('web','in_person','call_centre')", name="channel"),
        Index("ix_consent_events_subject", "subject_id", "occurred_at"),
    )


class ConsentState(Base):
    """The current consent of a subject for a purpose (the latest event)."""

    __tablename__ = "consent_states"
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(ForeignKey("purposes.name"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    notice_version: Mapped[int] = mapped_column(Integer)
    granted_at: Mapped[datetime | None] = mapped_column()
    withdrawn_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    channel: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(ForeignKey("consent_events.id"))

    __table_args__ = (CheckConstraint("state IN ('granted','withdrawn')", name="state"),)


purposes = cast(Table, PurposeRow.__table__)
purpose_notices = cast(Table, PurposeNotice.__table__)
consent_events = cast(Table, ConsentEvent.__table__)
consent_states = cast(Table, ConsentState.__table__)

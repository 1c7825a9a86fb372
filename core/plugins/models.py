"""Tables of the plugin framework.

NOTE: none holds personal data in clear. What a plugin keeps about a seeker is sealed under the
seeker's data key (``plugin_subject_data``), so erasing the seeker leaves it unreadable; the other
tables hold references, names and times.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models import UUID_LENGTH, Base, utcnow

NAME_LENGTH = 63
PURPOSE_LENGTH = 64
ERROR_LENGTH = 200


class PluginHolding(Base):
    """A plugin received data of a subject under a purpose: it must purge when that purpose goes.

    ``pseudonym`` is the plugin's own name for the subject; it maps the plugin's answers back.
    """

    __tablename__ = "plugin_holdings"
    plugin: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(PURPOSE_LENGTH), primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64))
    first_released_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_released_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_plugin_holdings_pseudonym", "plugin", "pseudonym"),
        Index("ix_plugin_holdings_subject", "subject_id"),
    )


class PluginSubjectData(Base):
    """One entry of a plugin's store about a subject, derived under ``purpose`` and sealed."""

    __tablename__ = "plugin_subject_data"
    plugin: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(PURPOSE_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_plugin_subject_data_scan", "plugin", "purpose", "name"),
        Index("ix_plugin_subject_data_subject", "subject_id"),
    )


class PluginSharedData(Base):
    """One entry of a plugin's store that is about no seeker (JSON)."""

    __tablename__ = "plugin_shared_data"
    plugin: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PluginEvent(Base):
    """The outbox: an event written in the transaction of the change, delivered after it commits.

    A dispatcher leases a batch (``lease_until``), delivers it and deletes it; a lease that runs
    out (the dispatcher died) makes the events deliverable again.
    """

    __tablename__ = "plugin_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    event: Mapped[str] = mapped_column(String(NAME_LENGTH))
    subject_id: Mapped[str | None] = mapped_column(String(UUID_LENGTH))
    record_id: Mapped[str | None] = mapped_column(String(UUID_LENGTH))
    # JSON references of the event (the category of the record concerned, the purpose granted, a
    # contact request's decision) or, for an employer's search, its criteria; never a dossier's value.
    payload: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column()
    # The request that caused the event: the audit entries of its releases name it.
    request_id: Mapped[str | None] = mapped_column(String(64))


class PluginPurge(Base):
    """A plugin must confirm that it purged a subject's data (a purpose withdrawn, or erasure)."""

    __tablename__ = "plugin_purges"
    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    plugin: Mapped[str] = mapped_column(String(NAME_LENGTH))
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"))
    # None for an erasure: everything, whatever the purpose.
    purpose: Mapped[str | None] = mapped_column(String(PURPOSE_LENGTH))
    cause: Mapped[str] = mapped_column(String(32))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The kind of the last failure (an exception class, "timeout", "not_confirmed"), never a message.
    last_error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))
    confirmed_at: Mapped[datetime | None] = mapped_column()
    items: Mapped[int | None] = mapped_column(Integer)
    # The request of the withdrawal or erasure: the confirmation's audit entry names it.
    request_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_plugin_purges_due", "confirmed_at", "next_attempt_at"),
        Index("ix_plugin_purges_subject", "subject_id"),
    )


class PluginIncident(Base):
    """A hook call that failed: raised, timed out, or answered something invalid."""

    __tablename__ = "plugin_incidents"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    plugin: Mapped[str] = mapped_column(String(NAME_LENGTH))
    hook: Mapped[str] = mapped_column(String(NAME_LENGTH))
    kind: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_plugin_incidents_plugin", "plugin", "at"),)


class PluginCall(Base):
    """A call of a plugin about a subject under a purpose, from the release of its view until the
    plugin's code has returned: a purge of that subject and purpose waits for it to end.

    ``lease_until`` bounds it if the process dies mid-call.
    """

    __tablename__ = "plugin_calls"
    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    plugin: Mapped[str] = mapped_column(String(NAME_LENGTH))
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"))
    purpose: Mapped[str] = mapped_column(String(PURPOSE_LENGTH))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime] = mapped_column()

    __table_args__ = (Index("ix_plugin_calls_holder", "plugin", "subject_id", "purpose"),)


class PluginStoreChange(Base):
    """The last change of one entry of a plugin's per-seeker store, numbered in commit order.

    ``deleted`` marks an entry gone (deleted by the plugin, purged, or erased): the change feed
    (``SubjectStore.changes``) reports it by the pseudonym, so that a copy elsewhere can drop it.
    """

    __tablename__ = "plugin_store_changes"
    plugin: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(PURPOSE_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_plugin_store_changes_feed", "plugin", "purpose", "name", "seq"),)


class PluginStoreSequence(Base):
    """The last change number of a plugin's store. Writers take its row lock until they commit, so
    numbers are committed in order and a reader never skips one committed later."""

    __tablename__ = "plugin_store_sequences"
    plugin: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))


class ChannelDelivery(Base):
    """A message a channel client sent, by its idempotency key (``Idempotency-Key``, or else its
    ``webhook-id``): claimed while its handler runs, then completed with the answer in the
    transaction that records its effect, so a retried message is answered, never recorded twice.

    ``request_mac`` is a keyed hash of the body (a reused key with another body is refused without
    keeping the body); ``answer`` is the JSON the client was given, which holds no personal data.
    """

    __tablename__ = "channel_deliveries"
    client_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # The signed webhook-id, unique too: a captured message sent again under another
    # Idempotency-Key (which the signature does not cover) is still the same message.
    message_id: Mapped[str] = mapped_column(String(200))
    plugin: Mapped[str] = mapped_column(String(NAME_LENGTH))
    path: Mapped[str] = mapped_column(String(255))
    request_mac: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[datetime] = mapped_column(index=True)
    completed_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[int | None] = mapped_column(Integer)
    answer: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("client_id", "message_id", name="uq_channel_deliveries_message"),)


plugin_holdings = cast(Table, PluginHolding.__table__)
plugin_subject_data = cast(Table, PluginSubjectData.__table__)
plugin_shared_data = cast(Table, PluginSharedData.__table__)
plugin_events = cast(Table, PluginEvent.__table__)
plugin_purges = cast(Table, PluginPurge.__table__)
plugin_incidents = cast(Table, PluginIncident.__table__)
plugin_calls = cast(Table, PluginCall.__table__)
plugin_store_changes = cast(Table, PluginStoreChange.__table__)
plugin_store_sequences = cast(Table, PluginStoreSequence.__table__)
channel_deliveries = cast(Table, ChannelDelivery.__table__)

"""The relational schema. Alembic migrations create it; ``create_all`` is never used outside tests.

NOTE: no column here holds personal data in clear. Dossier content lives in ``sealed_fields`` as
AES-256-GCM ciphertext under the subject's data key; exact lookups go through keyed blind indexes.
Identifiers are random UUIDs (invariant 4), never sequential.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

UUID_LENGTH = 36


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC time. Times are stored in UTC; SQLite returns them without their zone."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso_utc(moment: datetime) -> str:
    """ISO 8601 with the UTC offset."""
    return as_utc(moment).isoformat()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True)}


class Employer(Base):
    """An organisation whose users search published profiles."""

    __tablename__ = "employers"
    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subject(Base):
    """A job seeker as a data subject: the owner of one dossier and of one data key.

    ``wrapped_dek`` is the subject's data encryption key wrapped by the key-encryption key
    ``kek_version``; erasure sets both to NULL (invariant 6).
    """

    __tablename__ = "subjects"
    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True, default=new_id)
    wrapped_dek: Mapped[bytes | None] = mapped_column(LargeBinary)
    kek_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_subjects_kek_version", "kek_version"),)


class Account(Base):
    """A person or service that signs in. ``role`` is one of core.identity.Role."""

    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    subject_id: Mapped[str | None] = mapped_column(ForeignKey("subjects.id"), unique=True)
    employer_id: Mapped[str | None] = mapped_column(ForeignKey("employers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column()
    # A service client's scopes, space-separated (RFC 6749 section 3.3); NULL for people.
    scopes: Mapped[str | None] = mapped_column(Text)
    # An advisor's work e-mail address, where their alerts go (a staff member's, never a seeker's),
    # whether each alert is also e-mailed, and how often a digest comes: none, daily or weekly.
    email: Mapped[str | None] = mapped_column(String(254))
    email_alerts: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    alert_digest: Mapped[str] = mapped_column(String(10), default="daily", server_default="daily")
    # A channel client's webhook secret: its generation (the secret itself is derived from the
    # keyring), and until when the previous generation still verifies, while the sender changes.
    webhook_generation: Mapped[int | None] = mapped_column(Integer)
    webhook_previous_until: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        CheckConstraint("role IN ('seeker','advisor','employer','auditor','admin','service')", name="role"),
        CheckConstraint("(role = 'seeker') = (subject_id IS NOT NULL)", name="seeker_subject"),
        CheckConstraint("(role = 'employer') = (employer_id IS NOT NULL)", name="employer_link"),
        CheckConstraint("alert_digest IN ('none','daily','weekly')", name="alert_digest"),
    )


class SeekerAssignment(Base):
    """An advisor's caseload: the seekers assigned to them."""

    __tablename__ = "seeker_assignments"
    advisor_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True, index=True)
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmployerAssignment(Base):
    """An employer-side advisor's portfolio: the employers assigned to them."""

    __tablename__ = "employer_assignments"
    advisor_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    employer_id: Mapped[str] = mapped_column(ForeignKey("employers.id"), primary_key=True, index=True)
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)


class Record(Base):
    """One part of a dossier: the identity, the profile, a contact or an activity.

    Only references and the record's kind are in clear; every value is a sealed field.
    """

    __tablename__ = "records"
    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True, default=new_id)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"))
    kind: Mapped[str] = mapped_column(String(20))
    recorded_by: Mapped[str | None] = mapped_column(String(UUID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('identity','profile','contact','activity')", name="kind"),
        Index("ix_records_subject_kind", "subject_id", "kind"),
    )


class SealedField(Base):
    """One field of a record, sealed under the subject's data key.

    ``category`` is the field's data category (docs/design.md), kept in clear so that the
    policy's decision can select what to load and open without opening anything else.
    """

    __tablename__ = "sealed_fields"
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"))
    category: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_sealed_fields_subject", "subject_id", "category"),)


class BlindIndex(Base):
    """Keyed HMAC of a normalised identifier, for exact lookups without decryption."""

    __tablename__ = "blind_indexes"
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))

    __table_args__ = (
        Index("ix_blind_indexes_lookup", "kind", "digest"),
        # A national register number belongs to one person.
        Index(
            "uq_blind_indexes_national_id",
            "digest",
            unique=True,
            sqlite_where=text("kind = 'national_id'"),
            postgresql_where=text("kind = 'national_id'"),
        ),
    )


class TaxonomyConcept(Base):
    """An occupation or a skill. ``code`` is what profiles and searches use; ``id`` is compact."""

    __tablename__ = "taxonomy_concepts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    scheme: Mapped[str] = mapped_column(String(20))
    isco_group: Mapped[str | None] = mapped_column(String(10))
    esco_code: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        CheckConstraint("kind IN ('occupation','skill')", name="kind"),
        Index("ix_taxonomy_concepts_kind", "kind"),
    )


class TaxonomyLabel(Base):
    """A concept's preferred label in one language, and normalised text to search it by."""

    __tablename__ = "taxonomy_labels"
    concept_id: Mapped[int] = mapped_column(ForeignKey("taxonomy_concepts.id", ondelete="CASCADE"), primary_key=True)
    lang: Mapped[str] = mapped_column(String(8), primary_key=True)
    label: Mapped[str] = mapped_column(Text)
    # Lower-case, accents removed, preferred and alternative labels joined: what ?q= matches.
    search_text: Mapped[str] = mapped_column(Text)


class TaxonomyRelation(Base):
    """A skill that an occupation needs, essential or optional."""

    __tablename__ = "taxonomy_relations"
    occupation_id: Mapped[int] = mapped_column(ForeignKey("taxonomy_concepts.id", ondelete="CASCADE"), primary_key=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("taxonomy_concepts.id", ondelete="CASCADE"), primary_key=True)
    relation: Mapped[str] = mapped_column(String(20))

    __table_args__ = (
        CheckConstraint("relation IN ('essential','optional')", name="relation"),
        Index("ix_taxonomy_relations_skill", "skill_id"),
    )


employers = cast(Table, Employer.__table__)
subjects = cast(Table, Subject.__table__)
accounts = cast(Table, Account.__table__)
seeker_assignments = cast(Table, SeekerAssignment.__table__)
employer_assignments = cast(Table, EmployerAssignment.__table__)
records = cast(Table, Record.__table__)
sealed_fields = cast(Table, SealedField.__table__)
blind_indexes = cast(Table, BlindIndex.__table__)
taxonomy_concepts = cast(Table, TaxonomyConcept.__table__)
taxonomy_labels = cast(Table, TaxonomyLabel.__table__)
taxonomy_relations = cast(Table, TaxonomyRelation.__table__)

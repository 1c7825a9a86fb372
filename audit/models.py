"""Tables of the audit log.

``audit_queue`` takes each decision's entry inside the transaction of the access it governs: a
plain insert, no shared row to lock, so audited requests do not queue behind each other.
The sequencer moves committed entries, in order and without gaps, into ``audit_leaves`` (the
Merkle tree's leaves, numbered 0, 1, 2, ...), stores the hash of every complete subtree of 16
leaves or more in ``audit_nodes`` so that proofs read O(log n) rows, keeps each subject's chain
(``audit_subject_chains``), and signs a checkpoint over what it added.

NOTE: nothing here is trusted for what it says. A checkpoint's size and root are read from its
signed payload; the columns of ``audit_leaves`` that repeat fields of the hashed bytes, the stored
nodes and the chains are checked against the leaves by verification (docs/audit.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.models import UUID_LENGTH, Base


class AuditQueued(Base):
    """An entry appended but not yet in the tree. ``id`` orders entries of one connection."""

    __tablename__ = "audit_queue"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    canonical: Mapped[bytes] = mapped_column(LargeBinary)


class AuditLeaf(Base):
    """An entry in the tree. ``canonical`` is exactly the bytes that were hashed.

    The other columns repeat fields of ``canonical`` that queries need an index for (the subject, the
    time, the chain position). The sequencer derives them from ``canonical``, verification checks
    them against it, and what the API returns is read from ``canonical``; the other filters (actor,
    decision) read ``canonical`` itself.
    """

    __tablename__ = "audit_leaves"
    leaf_index: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    canonical: Mapped[bytes] = mapped_column(LargeBinary)
    subject_ref: Mapped[str | None] = mapped_column(String(UUID_LENGTH))
    at: Mapped[datetime] = mapped_column()
    # The entry's place in its subject's chain (format 2 on; None before, or without a subject).
    chain_n: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    chain_prev: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))

    __table_args__ = (
        # Covering the chain check: each subject's leaves in order, with their chain positions.
        Index("ix_audit_leaves_subject", "subject_ref", "leaf_index", "chain_n", "chain_prev"),
        Index("ix_audit_leaves_at", "at"),
    )


class AuditNode(Base):
    """The hash of the complete subtree of 2**level leaves starting at leaf index * 2**level.

    Only levels from ``audit.store.STORED_LEVEL`` up are stored; smaller subtrees are hashed from
    their leaves when needed.
    """

    __tablename__ = "audit_nodes"
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditTree(Base):
    """The one row the sequencer locks: how many leaves the tree holds."""

    __tablename__ = "audit_tree"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))


class AuditSubjectChain(Base):
    """Where each subject's chain stands: how many entries are about them, and the last one's index."""

    __tablename__ = "audit_subject_chains"
    subject_ref: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    entries: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    last_index: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))


class AuditCheckpoint(Base):
    """A signed statement of the tree's size and root at a time, as a JWS and as a C2SP signed note.

    ``tree_size`` only orders the rows: what a checkpoint says is read from its signed payload.
    """

    __tablename__ = "audit_checkpoints"
    tree_size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    jws: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class AuditCosignature(Base):
    """A witness's cosignature of a checkpoint (C2SP tlog-cosignature): the note's signature line."""

    __tablename__ = "audit_cosignatures"
    tree_size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    witness: Mapped[str] = mapped_column(String(200), primary_key=True)
    line: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column()


audit_queue = cast(Table, AuditQueued.__table__)
audit_leaves = cast(Table, AuditLeaf.__table__)
audit_nodes = cast(Table, AuditNode.__table__)
audit_tree = cast(Table, AuditTree.__table__)
audit_checkpoints = cast(Table, AuditCheckpoint.__table__)
audit_subject_chains = cast(Table, AuditSubjectChain.__table__)
audit_cosignatures = cast(Table, AuditCosignature.__table__)

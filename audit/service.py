"""Audit use cases: sequencing, checkpoints, proofs, the auditor's entries, the seeker's access log,
and ``dossier audit verify`` and ``dossier audit export``.

Verification integrates what is queued, then recomputes every leaf hash and the tree from the
stored entry bytes, and checks every kept checkpoint's signature and root with the public key.
A witness file in the instance folder (outside the database) remembers the last checkpoint that
verified, so that restoring an older database (a rollback) is detected too.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from audit import store
from audit.entries import parse
from audit.merkle import consistency_path, inclusion_path
from audit.models import audit_checkpoints, audit_leaves
from audit.verifier import EXPORT_FORMAT, Report, verify_log
from core.access import authorize, record, require_role
from core.errors import InvalidInput, NotFound
from core.files import write_private_json
from core.identity.roles import Actor, Role
from core.models import accounts, iso_utc
from core.policy import Action, Decision
from core.runtime import Runtime

WITNESS_FILE = "audit-witness.json"


@dataclass(frozen=True, slots=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    hashes: list[bytes]


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    first: int
    second: int
    hashes: list[bytes]


@dataclass(frozen=True, slots=True)
class EntryActor:
    id: str | None
    role: str | None
    client: str | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An entry as the auditor reads it: its place in the tree and the fields of its hashed bytes."""

    leaf_index: int
    leaf_hash: bytes
    v: int
    at: datetime
    actor: EntryActor
    subject: str | None
    action: str
    purposes: list[str]
    categories: list[str]
    decision: str
    reason: str
    request_id: str | None

    @classmethod
    def of(cls, leaf_index: int, leaf_hash: bytes, canonical: bytes) -> AuditEntry:
        e = parse(canonical)
        return cls(leaf_index, bytes(leaf_hash), e["v"], datetime.fromisoformat(e["at"]), EntryActor(**e["actor"]), e["subject"],
                   e["action"], e["purposes"], e["categories"], e["decision"], e["reason"], e["request_id"])


@dataclass(frozen=True, slots=True)
class EntriesPage:
    entries: list[AuditEntry]
    next_after: int | None


@dataclass(frozen=True, slots=True)
class AccessLogItem:
    """One entry of "who accessed my data", as the seeker reads it."""

    at: datetime
    actor_role: str
    actor: str | None
    action: str
    purpose: str | None
    purposes: list[str]
    categories: list[str]
    decision: str
    reason: str
    leaf_index: int

STAFF = {Role.ADVISOR.value, Role.ADMIN.value, Role.AUDITOR.value}


# Entries per sequencing transaction: small enough that requests waiting for the writer lock
# (SQLite) or the tree's row are not held up for long, large enough to amortise each commit.
SEQUENCE_BATCH = 250


def sequence(rt: Runtime) -> int:
    """Integrate every committed queued entry into the tree; return how many were added."""
    added = 0
    while True:
        with rt.transaction() as conn:
            count = store.integrate(
                conn, rt.signing, rt.clock(), batch=SEQUENCE_BATCH, checkpoint_every=rt.settings.AUDIT_CHECKPOINT_EVERY,
                checkpoint_after=timedelta(seconds=rt.settings.AUDIT_CHECKPOINT_SECONDS),
            )
        added += count
        if count < SEQUENCE_BATCH:
            return added


def checkpoint(rt: Runtime, actor: Actor) -> store.Checkpoint:
    """A signed checkpoint covering every entry committed before this call (signed if need be)."""
    require_role(actor, Role.AUDITOR, Role.SEEKER)
    return checkpoint_now(rt)


def checkpoint_now(rt: Runtime) -> store.Checkpoint:
    """Sequence what is queued, then the latest checkpoint, signing one if the tree has grown."""
    sequence(rt)
    with rt.transaction() as conn:
        size = store.tree_size(conn, lock=True)
        latest = store.latest_checkpoint(conn)
        if latest is None or latest.tree_size < size:
            latest = store.sign_checkpoint(conn, rt.signing, size, rt.clock())
    return latest


def inclusion_proof(rt: Runtime, actor: Actor, leaf_index: int, size: int) -> InclusionProof:
    require_role(actor, Role.AUDITOR, Role.SEEKER)
    sequence(rt)
    with rt.engine.connect() as conn:
        current = store.tree_size(conn)
        if not 0 <= leaf_index < size <= current:
            raise InvalidInput("Il faut 0 <= leaf_index < tree_size <= la taille de l'arbre.",
                               errors={"tree_size": [f"the tree holds {current} entries"]})
        if actor.role is Role.SEEKER:
            subject = conn.execute(select(audit_leaves.c.subject_ref).where(audit_leaves.c.leaf_index == leaf_index)).scalar()
            if subject is None or subject != actor.subject_id:
                raise NotFound()  # a seeker proves only entries about them
        path = inclusion_path(store.subtree_reader(conn), leaf_index, size)
    return InclusionProof(leaf_index, size, path)


def consistency_proof(rt: Runtime, actor: Actor, first: int, second: int) -> ConsistencyProof:
    require_role(actor, Role.AUDITOR)
    sequence(rt)
    with rt.engine.connect() as conn:
        current = store.tree_size(conn)
        if not 0 < first <= second <= current:
            raise InvalidInput("Il faut 0 < first <= second <= la taille de l'arbre.",
                               errors={"second": [f"the tree holds {current} entries"]})
        path = consistency_path(store.subtree_reader(conn), first, second)
    return ConsistencyProof(first, second, path)


def entries(rt: Runtime, actor: Actor, *, subject: str | None, actor_id: str | None, decision: str | None,
            since: datetime | None, until: datetime | None, after: int | None, limit: int) -> EntriesPage:
    """The auditor's view: entries filtered and paginated by leaf index; fields read from the hashed bytes."""
    require_role(actor, Role.AUDITOR)
    now = rt.clock()
    sequence(rt)
    query = select(audit_leaves.c.leaf_index, audit_leaves.c.leaf_hash, audit_leaves.c.canonical).order_by(audit_leaves.c.leaf_index)
    if subject is not None:
        query = query.where(audit_leaves.c.subject_ref == subject)
    if actor_id is not None:
        query = query.where(audit_leaves.c.actor_id == actor_id)
    if decision is not None:
        query = query.where(audit_leaves.c.decision == decision)
    if since is not None:
        query = query.where(audit_leaves.c.at >= since)
    if until is not None:
        query = query.where(audit_leaves.c.at < until)
    if after is not None:
        query = query.where(audit_leaves.c.leaf_index > after)
    with rt.transaction() as conn:
        rows = conn.execute(query.limit(limit + 1)).all()
        # Reading the log is itself recorded: who read it, and with which filter on a subject.
        record(conn, actor, Decision.recorded(Action.AUDIT_LOG_READ, subject, (), "auditor"), now)
    items = [AuditEntry.of(r.leaf_index, r.leaf_hash, r.canonical) for r in rows[:limit]]
    return EntriesPage(items, items[-1].leaf_index if len(rows) > limit else None)


def _actor_name(recorded: dict[str, Any], staff_names: dict[str, str], reader: Actor) -> str | None:
    """Who, as the seeker reads it: a staff member's name, a plugin's name, or "you"."""
    if recorded["role"] in STAFF:
        return staff_names.get(recorded["id"])
    if recorded["role"] == "plugin" and recorded.get("client"):
        return str(recorded["client"]).removeprefix("plugin:")
    return "vous / you" if recorded["id"] == reader.account_id else None


def access_log(rt: Runtime, actor: Actor, subject_id: str) -> list[AccessLogItem]:
    """Every entry about the seeker: who (role, and name for staff and plugins), why, which categories, the outcome."""
    sequence(rt)
    with rt.transaction() as conn:
        authorize(conn, actor, Action.ACCESS_LOG_READ, subject_id, (), now=rt.clock())
        rows = conn.execute(
            select(audit_leaves.c.leaf_index, audit_leaves.c.canonical)
            .where(audit_leaves.c.subject_ref == subject_id).order_by(audit_leaves.c.leaf_index)
        ).all()
        parsed = [(r.leaf_index, parse(r.canonical)) for r in rows]
        staff_ids = {e["actor"]["id"] for _, e in parsed if e["actor"]["role"] in STAFF}
        names = dict(conn.execute(select(accounts.c.id, accounts.c.username)
                                  .where(accounts.c.id.in_(staff_ids))).all()) if staff_ids else {}
    return [
        AccessLogItem(datetime.fromisoformat(e["at"]), e["actor"]["role"], _actor_name(e["actor"], names, actor), e["action"],
                      e["purposes"][0] if e["purposes"] else None, e["purposes"], e["categories"], e["decision"], e["reason"],
                      index)
        for index, e in parsed
    ]


# -- verification and export --------------------------------------------------------------


def verify(rt: Runtime, update_witness: bool = True) -> Report:
    # A checkpoint over everything there is, so that the witness remembers all that was verified.
    # A tampered store may not even let one be signed; the verification below says what is wrong.
    try:
        checkpoint_now(rt)
    except SQLAlchemyError:
        update_witness = False
    witness_path = rt.settings.instance_path / WITNESS_FILE
    trusted = [json.loads(witness_path.read_text())["jws"]] if witness_path.is_file() else []
    jwks = rt.signing.jwks()
    with rt.engine.connect() as conn:
        checkpoints = list(conn.execute(select(audit_checkpoints.c.jws).order_by(audit_checkpoints.c.tree_size)).scalars())
        report = verify_log(store.leaves(conn), checkpoints, jwks, trusted, expected_size=store.tree_size(conn))
        latest = store.latest_checkpoint(conn)
    if report.ok and update_witness and latest is not None:
        write_private_json(witness_path, latest.as_dict())
    return report


def export(rt: Runtime, path: Path) -> int:
    """Write the log and its checkpoints as JSON lines for the stand-alone verifier; return the size.

    A checkpoint over everything integrated is signed first, so that the stand-alone verifier, which
    fails closed, finds the whole export covered. The file is written with mode 0600: it names who
    accessed whose data.
    """
    size = checkpoint_now(rt).tree_size
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with rt.engine.connect() as conn, os.fdopen(fd, "w", encoding="utf-8") as fh:
        count = conn.execute(select(func.count()).select_from(audit_leaves).where(audit_leaves.c.leaf_index < size)).scalar_one()
        fh.write(json.dumps({"format": EXPORT_FORMAT, "tree_size": size, "exported_at": iso_utc(rt.clock()),
                             "leaves_present": count}) + "\n")
        for index, canonical, recorded in store.leaves(conn):
            if index >= size:
                continue  # integrated after the checkpoint above: the next export has them
            fh.write(json.dumps({"leaf_index": index, "leaf_hash": recorded.hex() if recorded else None,
                                 "entry": canonical.decode("utf-8")}, ensure_ascii=False) + "\n")
        for token in conn.execute(select(audit_checkpoints.c.jws).order_by(audit_checkpoints.c.tree_size)).scalars():
            fh.write(json.dumps({"checkpoint": token}) + "\n")
    return size

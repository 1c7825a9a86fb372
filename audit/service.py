"""Audit use cases: sequencing, checkpoints, proofs, the auditor's entries, the seeker's access log,
and ``dossier audit verify`` and ``dossier audit export``.

Verification integrates what is queued, then recomputes every leaf hash and the tree from the
stored entry bytes, and checks every kept checkpoint's signature and root with the public key.
A witness file in the instance folder (outside the database) remembers the last checkpoint that
verified, so that restoring an older database (a rollback) is detected too.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, ColumnElement, LargeBinary, Row, bindparam, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.exc import SQLAlchemyError

from audit import note, store
from audit.entries import parse
from audit.merkle import EMPTY_ROOT, consistency_path, inclusion_path
from audit.models import audit_checkpoints, audit_cosignatures, audit_leaves
from audit.verifier import ACCESS_LOG_FORMAT, EXPORT_FORMAT, Report, verify_log
from core.access import authorize, record, require_role
from core.errors import InvalidInput, NotFound
from core.db import upsert
from core.files import write_private_json
from core.identity.roles import Actor, Role
from core.models import accounts, employers, iso_utc
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
    leaf: str  # the exact bytes hashed into the tree (UTF-8), to rebuild the leaf
    inclusion: list[bytes]  # its RFC 9162 inclusion path in the checkpoint's tree


@dataclass(frozen=True, slots=True)
class AccessLog:
    """"Who accessed my data", as the seeker's verifier checks it (``python -m audit.verifier --access-log``)."""

    format: str
    subject: str
    request_id: str | None
    entries: list[AccessLogItem]
    checkpoint: store.Checkpoint


STAFF = {Role.ADVISOR.value, Role.ADMIN.value, Role.AUDITOR.value}


# Entries per sequencing transaction: small enough that requests waiting for the writer lock
# (SQLite) or the tree's row are not held up for long, large enough to amortise each commit.
SEQUENCE_BATCH = 250


def sequence(rt: Runtime) -> int:
    """Integrate every committed queued entry into the tree; return how many were added."""
    added = 0
    while True:
        with rt.transaction() as conn:
            count = store.integrate(conn, rt.signing, rt.clock(), origin=rt.settings.AUDIT_LOG_ORIGIN, batch=SEQUENCE_BATCH)
        added += count
        if count < SEQUENCE_BATCH:
            return added


def checkpoint(rt: Runtime, actor: Actor) -> store.Checkpoint:
    """A signed checkpoint covering every entry committed before this call (signed if need be)."""
    require_role(actor, Role.AUDITOR, Role.SEEKER)
    return checkpoint_now(rt)


def checkpoint_now(rt: Runtime) -> store.Checkpoint:
    """Sequence what is queued, then the latest checkpoint (each sequencing pass signs one; the
    empty tree is signed on the first request)."""
    sequence(rt)
    with rt.engine.connect() as conn:
        latest = store.latest_checkpoint(conn, rt.signing)
    if latest is not None:
        return latest
    with rt.transaction() as conn:
        latest = store.latest_checkpoint(conn, rt.signing)
        if latest is None and store.tree_size(conn, lock=True) == 0:
            latest = store.sign_checkpoint(conn, rt.signing, 0, EMPTY_ROOT, rt.clock(), rt.settings.AUDIT_LOG_ORIGIN)
    if latest is None:
        raise store.TreeTampered("the tree holds entries but no checkpoint signs them")
    return latest


# -- checkpoints for witnesses (C2SP signed notes) -----------------------------------------------


def log_verifiers(rt: Runtime) -> list[note.Verifier]:
    """The log's note keys: every checkpoint key of the JWKS (retired ones too), named by the origin."""
    return [note.Verifier.for_key(rt.settings.AUDIT_LOG_ORIGIN, base64.urlsafe_b64decode(k["x"] + "=" * (-len(k["x"]) % 4)))
            for k in rt.signing.jwks()["keys"] if k.get("dossier_use") == "checkpoint"]


def witness_verifiers(rt: Runtime) -> list[note.Verifier]:
    try:
        return [note.parse_vkey(text) for text in rt.settings.AUDIT_WITNESSES]
    except note.NoteError as exc:
        raise InvalidInput(f"AUDIT_WITNESSES: {exc}") from None


def checkpoint_note(rt: Runtime) -> str:
    """The latest checkpoint as a C2SP signed note, with the cosignatures recorded for it."""
    return _cosigned_note(rt, checkpoint_now(rt).tree_size)


def _cosigned_note(rt: Runtime, size: int) -> str:
    with rt.engine.connect() as conn:
        text = conn.execute(select(audit_checkpoints.c.note).where(audit_checkpoints.c.tree_size == size)).scalar() or ""
        lines = conn.execute(select(audit_cosignatures.c.line).where(audit_cosignatures.c.tree_size == size)
                             .order_by(audit_cosignatures.c.witness)).scalars().all()
    for line in lines:
        text = note.add_signature(text, line)
    return text


@dataclass(frozen=True, slots=True)
class Cosigned:
    tree_size: int
    witnesses: list[str]


def record_cosignatures(rt: Runtime, text: str) -> Cosigned:
    """Keep the cosignatures of configured witnesses found on ``text``, one of this log's checkpoint
    notes as a witness returned it (C2SP tlog-witness: the note with the witness's lines added)."""
    witnesses = witness_verifiers(rt)
    if not witnesses:
        raise InvalidInput("Aucun témoin configuré / no witness configured (AUDIT_WITNESSES).")
    try:
        parsed = note.parse_note(text)
        cosigned = note.parse_checkpoint(parsed.body)
    except note.NoteError as exc:
        raise InvalidInput(f"Note illisible / not a checkpoint note: {exc}") from None
    with rt.engine.connect() as conn:
        ours = conn.execute(select(audit_checkpoints.c.note).where(audit_checkpoints.c.tree_size == cosigned.tree_size)).scalar()
    if ours is None or note.parse_note(ours).body != parsed.body:
        raise InvalidInput(f"Ce n'est pas un point de contrôle de ce journal / not a checkpoint of this log (size {cosigned.tree_size}).")
    now, rows, recorded = rt.clock(), [], []
    # Every line is checked before any is kept: a bad one refuses the whole note, nothing recorded.
    for witness in witnesses:
        for signature in parsed.signatures:
            if (signature.name, signature.key_hash) != (witness.name, witness.key_hash):
                continue
            try:
                note.verify_cosignature(parsed.body, signature, witness.public_key, witness.name, not_after=int(now.timestamp()) + 300)
            except note.NoteError as exc:
                raise InvalidInput(f"La cosignature de {witness.name} ne se vérifie pas / does not verify: {exc}") from None
            rows.append({"tree_size": cosigned.tree_size, "witness": witness.name, "line": signature.line, "recorded_at": now})
            recorded.append(witness.name)
    if not rows:
        raise InvalidInput("Aucune cosignature d'un témoin configuré / no cosignature by a configured witness.")
    with rt.transaction() as conn:
        upsert(conn, audit_cosignatures, rows, keys=["tree_size", "witness"], changes=["line", "recorded_at"])
    return Cosigned(cosigned.tree_size, recorded)


def inclusion_proof(rt: Runtime, actor: Actor, leaf_index: int, size: int) -> InclusionProof:
    require_role(actor, Role.AUDITOR, Role.SEEKER)
    sequence(rt)
    with rt.engine.connect() as conn:
        current = store.tree_size(conn)
        if not 0 <= leaf_index < size <= current:
            raise InvalidInput("Il faut 0 <= leaf_index < tree_size <= la taille de l'arbre.",
                               errors={"tree_size": [f"the tree holds {current} entries"]})
        if actor.role is Role.SEEKER:
            canonical = conn.execute(select(audit_leaves.c.canonical).where(audit_leaves.c.leaf_index == leaf_index)).scalar()
            if canonical is None or parse(canonical).get("subject") != actor.subject_id:
                raise NotFound()  # a seeker proves only entries about them (as the hashed bytes say)
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
    # Actor and decision have no column: the hashed bytes are searched (a UUID or a decision word
    # holds no LIKE wildcard; the exact match is checked again below).
    if actor_id is not None:
        query = query.where(_entry_holds(f'"id":"{actor_id}"'))
    if decision is not None:
        query = query.where(_entry_holds(f'"decision":"{decision}"'))
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
    # The filter ran on columns; what is returned must also match by the hashed bytes (a row whose
    # column was edited to match is left out here, and named by verification).
    wanted = [e for e in items if (subject is None or e.subject == subject) and (actor_id is None or e.actor.id == actor_id)
              and (decision is None or e.decision == decision) and (since is None or e.at >= since) and (until is None or e.at < until)]
    return EntriesPage(wanted, items[-1].leaf_index if len(rows) > limit else None)


def _entry_holds(member: str) -> ColumnElement[bool]:
    """The entry's bytes contain ``member``: ``instr`` on SQLite, ``position`` on PostgreSQL (both
    search bytes in bytes); rendered per dialect by ``_contains`` below."""
    return _Contains(audit_leaves.c.canonical, bindparam(None, member.encode(), type_=LargeBinary))


class _Contains(ColumnElement[bool]):
    """``needle`` occurs in ``haystack`` (both bytes)."""

    type = Boolean()
    inherit_cache = True

    def __init__(self, haystack: ColumnElement[bytes], needle: ColumnElement[bytes]) -> None:
        self.haystack, self.needle = haystack, needle


@compiles(_Contains, "sqlite")
def _contains_sqlite(element: _Contains, compiler: Any, **kw: Any) -> str:
    return f"instr({compiler.process(element.haystack, **kw)}, {compiler.process(element.needle, **kw)}) > 0"


@compiles(_Contains, "postgresql")
def _contains_postgresql(element: _Contains, compiler: Any, **kw: Any) -> str:
    return f"position({compiler.process(element.needle, **kw)} IN {compiler.process(element.haystack, **kw)}) > 0"


def _actor_name(recorded: dict[str, Any], staff_names: dict[str, str], reader: Actor | None) -> str | None:
    """Who, as the seeker reads it: a staff member's name, a plugin's name, or "you"."""
    if recorded["role"] in STAFF or recorded["role"] == Role.EMPLOYER.value:
        return staff_names.get(recorded["id"])
    if recorded["role"] == "plugin" and recorded.get("client"):
        return str(recorded["client"]).removeprefix("plugin:")
    return "vous / you" if reader is not None and recorded["id"] == reader.account_id else None


def access_log(rt: Runtime, actor: Actor, subject_id: str) -> AccessLog:
    """Every entry about the seeker up to a signed checkpoint, with what proves the list complete.

    The read is recorded first and sequenced, so the list ends with (or after) the entry of this
    very read: the seeker's verifier checks that it is there, that each entry's chain position
    points at the one before, that the first has none, and that every leaf is in the signed tree.
    """
    with rt.transaction() as conn:
        authorize(conn, actor, Action.ACCESS_LOG_READ, subject_id, (), now=rt.clock())
    signed = checkpoint_now(rt)
    return AccessLog(ACCESS_LOG_FORMAT, subject_id, actor.request_id, listed(rt, subject_id, signed, actor), signed)


def listed(rt: Runtime, subject_id: str, signed: store.Checkpoint, reader: Actor | None) -> list[AccessLogItem]:
    """The entries about ``subject_id`` in the tree ``signed`` covers, each with its leaf and inclusion path."""
    with rt.engine.connect() as conn:
        rows = conn.execute(
            select(audit_leaves.c.leaf_index, audit_leaves.c.canonical)
            .where(audit_leaves.c.subject_ref == subject_id, audit_leaves.c.leaf_index < signed.tree_size)
            .order_by(audit_leaves.c.leaf_index)
        ).all()
        # What is shown is what the hashed bytes say: a leaf whose column names this seeker but
        # whose bytes do not is not theirs (verification names it).
        parsed = [(r.leaf_index, bytes(r.canonical), e) for r in rows if (e := parse(r.canonical)).get("subject") == subject_id]
        paths = store.inclusion_paths(conn, [index for index, _, _ in parsed], signed.tree_size)
        staff_ids = {e["actor"]["id"] for _, _, e in parsed if e["actor"]["role"] in STAFF}
        names = dict(conn.execute(select(accounts.c.id, accounts.c.username)
                                  .where(accounts.c.id.in_(staff_ids))).all()) if staff_ids else {}
        # An employer's user is shown as the employer: the organisation the seeker deals with.
        employer_ids = {e["actor"]["id"] for _, _, e in parsed if e["actor"]["role"] == Role.EMPLOYER.value}
        names |= dict(conn.execute(select(accounts.c.id, employers.c.name).join(employers, employers.c.id == accounts.c.employer_id)
                                   .where(accounts.c.id.in_(employer_ids))).all()) if employer_ids else {}
    return [
        AccessLogItem(datetime.fromisoformat(e["at"]), e["actor"]["role"], _actor_name(e["actor"], names, reader), e["action"],
                      e["purposes"][0] if e["purposes"] else None, e["purposes"], e["categories"], e["decision"], e["reason"],
                      index, canonical.decode("utf-8"), paths[index])
        for index, canonical, e in parsed
    ]


# -- verification and export --------------------------------------------------------------


def verify(rt: Runtime, update_witness: bool = True) -> Report:
    """``dossier audit verify``: every leaf, node, chain, column and kept checkpoint, and the witness.

    The sequencer first integrates what is queued; it refuses to sign over a stored tree that does
    not match the latest signed checkpoint, and that refusal is a failure here. The columns and
    chains are checked by SQL on a connection of its own (one statement on PostgreSQL), while this
    thread hashes.
    """
    refused: str | None = None
    try:
        checkpoint_now(rt)
    except store.TreeTampered as exc:
        refused, update_witness = f"sequencing refused: {exc}", False
    except SQLAlchemyError:
        update_witness = False  # a tampered store may not even take new leaves; the checks below say why
    witness_path = rt.settings.instance_path / WITNESS_FILE
    trusted = [json.loads(witness_path.read_text())["jws"]] if witness_path.is_file() else []
    jwks = rt.signing.jwks()
    # One thread beside this one: on two cores, a third would only take turns with them.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-verify") as beside, rt.engine.connect() as conn:
        compared = beside.submit(_leaves_checked, rt)
        kept = conn.execute(select(audit_checkpoints.c.tree_size, audit_checkpoints.c.jws, audit_checkpoints.c.note)
                            .order_by(audit_checkpoints.c.tree_size)).all()
        nodes = store.stored_nodes(conn)
        report = verify_log(store.leaves(conn), [row.jws for row in kept], jwks, trusted, expected_size=store.tree_size(conn),
                            stored_nodes=iter(nodes), stored_from_level=store.STORED_LEVEL)
        first_bad, chains = compared.result()
    if first_bad is not None:
        report.fail(f"leaf {first_bad}: a column that repeats the entry (subject, time, chain position) or its place in "
                    "the subject's chain does not match the hashed bytes", first_bad)
    if chains is not None:
        report.fail(f"the sequencer's chain table was altered: {chains}")
    if (row_problem := _kept_checkpoint_problem(kept, jwks, log_verifiers(rt))) is not None:
        report.fail(row_problem)
    if trusted and trusted[0] not in {row.jws for row in kept}:
        report.fail("the checkpoint the witness file remembers is no longer kept: checkpoints were removed")
    if (cosignature_problem := _cosignature_problem(rt, {row.tree_size: row.note for row in kept})) is not None:
        report.fail(cosignature_problem)
    if refused is not None:
        report.fail(refused)
    if report.ok and update_witness:
        with rt.engine.connect() as conn:
            latest = store.latest_checkpoint(conn, rt.signing)
        if latest is not None:
            write_private_json(witness_path, latest.as_dict())
    return report


def _cosignature_problem(rt: Runtime, notes: dict[int, str | None]) -> str | None:
    """A recorded cosignature of a configured witness that does not verify over its checkpoint."""
    witnesses = {w.name: w for w in witness_verifiers(rt)}
    with rt.engine.connect() as conn:
        rows = conn.execute(select(audit_cosignatures.c.tree_size, audit_cosignatures.c.witness, audit_cosignatures.c.line)).all()
    for size, name, line in rows:
        witness, text = witnesses.get(name), notes.get(size)
        if witness is None:
            continue  # a witness no longer configured: its cosignatures prove nothing here
        if text is None:
            return f"a cosignature by {name} is recorded for a checkpoint of size {size} that is not kept"
        try:
            note.verify_cosignature(note.parse_note(text).body, line, witness.public_key, witness.name)
        except note.NoteError as exc:
            return f"the cosignature by {name} of checkpoint {size}: {exc}"
    return None


# The checks that SQL does, on a connection of their own: the database runs them beside the
# hashing (SQLite's C code releases the interpreter's lock; PostgreSQL is another process).
def _leaves_checked(rt: Runtime) -> tuple[int | None, str | None]:
    with rt.engine.connect() as conn:
        return store.leaves_disagree(conn)


def _kept_checkpoint_problem(kept: Sequence[Row[Any, Any, Any]], jwks: dict[str, Any], verifiers: list[note.Verifier]) -> str | None:
    """A kept checkpoint whose row says another size than its signature (the row orders, the
    signature states), or whose signed note does not verify or says another size or root."""
    noted = False
    for row in kept:
        try:
            signed = store.checkpoint_of(row.jws, row.note, jwks)
        except ValueError as exc:
            return f"kept checkpoint of row {row.tree_size}: {exc}"
        if signed.tree_size != row.tree_size:
            return f"a kept checkpoint's row says {row.tree_size} entries but its signature says {signed.tree_size}"
        if row.note is None:
            if noted:  # every checkpoint since notes came is signed as one too
                return f"the signed note of checkpoint {row.tree_size} was removed"
            continue  # signed before notes were
        noted = True
        try:
            body = note.parse_checkpoint(note.verify_note(row.note, verifiers).body)
        except note.NoteError as exc:
            return f"the signed note of checkpoint {row.tree_size}: {exc}"
        if (body.tree_size, body.root_hash) != (signed.tree_size, signed.root_hash):
            return f"the signed note of checkpoint {row.tree_size} says another size or root than its JWS"
    return None


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
        for token in conn.execute(select(audit_checkpoints.c.jws).where(audit_checkpoints.c.tree_size <= size)
                                  .order_by(audit_checkpoints.c.tree_size)).scalars():
            fh.write(json.dumps({"checkpoint": token}) + "\n")
        cosigned = conn.execute(select(audit_cosignatures.c.tree_size).distinct().where(audit_cosignatures.c.tree_size <= size)
                                .order_by(audit_cosignatures.c.tree_size)).scalars().all()
        # The checkpoints witnesses cosigned, as notes with their cosignatures (the verifier's --witness).
        for cosigned_size in cosigned:
            fh.write(json.dumps({"note": _cosigned_note(rt, cosigned_size)}, ensure_ascii=False) + "\n")
    return size

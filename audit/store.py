"""The audit log's storage: appending, sequencing appended entries into the Merkle tree, reading it back.

``append`` runs inside the transaction of the access it records: one insert into the queue, so
the entry exists exactly when the access does (invariant 2). ``integrate`` takes the committed
entries in order, numbers them from the tree's size on without gaps, gives each entry about a
subject its place in the subject's chain, stores the leaves and the hash of every complete subtree
of 16 leaves or more, and signs a checkpoint over what it added. Only ``integrate`` locks the
tree's row, so audited requests never wait on each other.

NOTE: ``integrate`` signs only what it integrated itself, on top of a tree it first found equal to
the latest signed checkpoint: a leaf slipped into the tables, a changed size or a stored node that
no longer matches stops sequencing (``TreeTampered``) instead of being signed.
"""

from __future__ import annotations

import functools
import json
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws
from sqlalchemy import bindparam, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.engine import Connection

from audit import note
from audit.entries import Chain, Entry, leaf_bytes, parse
from audit.merkle import Frontier, SubtreeReader, complete_subtree_hash, frontier_positions, inclusion_path, leaf_hash, positions_read
from audit.models import audit_checkpoints, audit_leaves, audit_nodes, audit_queue, audit_subject_chains, audit_tree
from audit.verifier import verify_checkpoint
from core.db import Prepared, upsert
from core.identity.signing import SIGNING_ALGORITHM, KeyUse, SigningKeys
from core.models import iso_utc

CHECKPOINT_TYPE = "audit-checkpoint+jws"
DEFAULT_ORIGIN = "dossier.example/audit"


class TreeTampered(Exception):
    """The stored tree does not match the latest signed checkpoint: nothing more is signed over it."""


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint as its signature states it (never as the table's columns say)."""

    tree_size: int
    root_hash: bytes
    timestamp: datetime
    jws: str
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"tree_size": self.tree_size, "root_hash": self.root_hash.hex(), "timestamp": iso_utc(self.timestamp), "jws": self.jws}


_APPEND = Prepared(insert(audit_queue).values(canonical=bindparam("canonical")))


def append(conn: Connection, entry: Entry) -> None:
    """Record ``entry`` in the caller's transaction (every request does: a prepared statement)."""
    _APPEND.run(conn, {"canonical": entry.canonical()})


def append_many(conn: Connection, entries: Sequence[Entry]) -> None:
    """Record ``entries``, in this order, in the caller's transaction: one batched statement."""
    if entries:
        conn.execute(insert(audit_queue), [{"canonical": entry.canonical()} for entry in entries])


def tree_size(conn: Connection, lock: bool = False) -> int:
    query = select(audit_tree.c.size).where(audit_tree.c.id == 1)
    size: int = conn.execute(query.with_for_update() if lock else query).scalar_one()
    return size


# Complete subtrees below this level (up to 8 leaves) are not stored: when a proof or the frontier
# needs one, it is hashed again from its leaves, read in one range. Storing every level cost two
# node rows per entry; from level 4 (16 leaves) up, it is one row per 8 entries.
STORED_LEVEL = 4


_NODE = Prepared(select(audit_nodes.c.hash).where(audit_nodes.c.level == bindparam("level"), audit_nodes.c.index == bindparam("index")))
_LEAF_HASHES = Prepared(
    select(audit_leaves.c.leaf_hash)
    .where(audit_leaves.c.leaf_index >= bindparam("start"), audit_leaves.c.leaf_index < bindparam("end"))
    .order_by(audit_leaves.c.leaf_index)
)


def subtree_reader(conn: Connection) -> SubtreeReader:
    """A reader of complete-subtree hashes (stored, or hashed from their leaves), remembering what it read."""
    cache: dict[tuple[int, int], bytes] = {}

    def read(level: int, index: int) -> bytes:
        key = (level, index)
        if key not in cache:
            if level >= STORED_LEVEL:
                rows = _NODE.rows(conn, {"level": level, "index": index})
            else:
                width = 1 << level
                leaves = _LEAF_HASHES.rows(conn, {"start": index * width, "end": (index + 1) * width})
                rows = [(complete_subtree_hash([h for h, in leaves]),)] if len(leaves) == width else []
            if not rows:
                raise LookupError(f"the tree has no complete subtree at level {level}, index {index}")
            cache[key] = bytes(rows[0][0])
        return cache[key]

    return read


def inclusion_paths(conn: Connection, indices: list[int], size: int) -> dict[int, list[bytes]]:
    """The inclusion path of each leaf in the tree of ``size`` leaves, the subtrees they need read
    together (a seeker's thousand entries need some ten thousand, in a few statements, not one each)."""
    needed = positions_read(lambda reader: [inclusion_path(reader, index, size) for index in indices])
    hashes: dict[tuple[int, int], bytes] = {}
    stored = sorted(p for p in needed if p[0] >= STORED_LEVEL)
    for chunk in _chunks(stored):
        rows = conn.execute(select(audit_nodes.c.level, audit_nodes.c.index, audit_nodes.c.hash)
                            .where(tuple_(audit_nodes.c.level, audit_nodes.c.index).in_(chunk))).all()
        hashes.update({(level, index): bytes(h) for level, index, h in rows})
    small = [p for p in needed if p[0] < STORED_LEVEL]
    wanted = sorted({leaf for level, index in small for leaf in range(index << level, (index + 1) << level)})
    leaf_hashes: dict[int, bytes] = {}
    for chunk in _chunks(wanted):
        found = conn.execute(select(audit_leaves.c.leaf_index, audit_leaves.c.leaf_hash).where(audit_leaves.c.leaf_index.in_(chunk)))
        leaf_hashes.update({index: bytes(h) for index, h in found})
    for level, index in small:
        span = range(index << level, (index + 1) << level)
        if all(leaf in leaf_hashes for leaf in span):
            hashes[(level, index)] = complete_subtree_hash([leaf_hashes[leaf] for leaf in span])
    fallback = subtree_reader(conn)

    def read(level: int, index: int) -> bytes:
        found = hashes.get((level, index))
        return found if found is not None else fallback(level, index)

    return {index: inclusion_path(read, index, size) for index in indices}


def _chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@functools.cache
def _queued(batch: int) -> Prepared:
    return Prepared(select(audit_queue.c.id, audit_queue.c.canonical).order_by(audit_queue.c.id).limit(batch))


_STORE_LEAF = Prepared(insert(audit_leaves).values(
    leaf_index=bindparam("leaf_index"), leaf_hash=bindparam("leaf_hash"), canonical=bindparam("canonical"),
    subject_ref=bindparam("subject_ref"), at=bindparam("at"),
    chain_n=bindparam("chain_n"), chain_prev=bindparam("chain_prev"),
))
_STORE_NODE = Prepared(insert(audit_nodes).values(level=bindparam("level"), index=bindparam("index"), hash=bindparam("hash")))
# One id at a time, never a range: on PostgreSQL an entry with a smaller id may commit after
# the batch was read, and a range would delete it unsequenced.
_DEQUEUE = Prepared(delete(audit_queue).where(audit_queue.c.id == bindparam("id")))


def integrate(conn: Connection, keys: SigningKeys, now: datetime, *, origin: str = DEFAULT_ORIGIN, batch: int = 5000) -> int:
    """Move committed queued entries into the tree, in order, and sign the tree they make; return
    how many were added. Raises ``TreeTampered`` when the stored tree is not the signed one.

    The caller's transaction must be a write transaction (it locks the tree's row).
    """
    size = tree_size(conn, lock=True)
    rows = _queued(batch).rows(conn, {})
    if not rows:
        return 0
    read = subtree_reader(conn)
    try:
        frontier = Frontier(size, [read(level, index) for level, index in frontier_positions(size)])
    except LookupError as exc:
        raise TreeTampered(f"the stored tree of {size} entries is incomplete: {exc}") from None
    _check_signed(latest_checkpoint(conn, keys), frontier)
    documents = [parse(canonical) for _, canonical in rows]
    chains = _chains(conn, {d["subject"] for d in documents if d.get("subject")})
    leaves, nodes, dequeued = [], [], []
    for (queued_id, _), document in zip(rows, documents, strict=True):
        index, subject = frontier.size, document.get("subject")
        chain = None
        if subject:
            count, last = chains.get(subject, (0, None))
            chain = Chain(count, last)
            chains[subject] = (count + 1, index)
        canonical = leaf_bytes(document, chain)
        digest = leaf_hash(canonical)
        leaves.append({"leaf_index": index, "leaf_hash": digest, "canonical": canonical, "subject_ref": subject,
                       "at": datetime.fromisoformat(document["at"]),
                       "chain_n": chain.n if chain else None, "chain_prev": chain.prev if chain else None})
        nodes += [{"level": level, "index": i, "hash": h} for level, i, h in frontier.append(digest) if level >= STORED_LEVEL]
        dequeued.append({"id": queued_id})
    _STORE_LEAF.run_many(conn, leaves)
    if nodes:
        _STORE_NODE.run_many(conn, nodes)
    _DEQUEUE.run_many(conn, dequeued)
    touched = dict.fromkeys(str(leaf["subject_ref"]) for leaf in leaves if leaf["subject_ref"])
    moved = [{"subject_ref": subject, "entries": chains[subject][0], "last_index": chains[subject][1]} for subject in touched]
    if moved:
        upsert(conn, audit_subject_chains, moved, keys=["subject_ref"], changes=["entries", "last_index"])
    conn.execute(update(audit_tree).where(audit_tree.c.id == 1).values(size=frontier.size))
    sign_checkpoint(conn, keys, frontier.size, frontier.root(), now, origin)
    return len(rows)


def _check_signed(latest: Checkpoint | None, frontier: Frontier) -> None:
    """The tree about to grow must be the one the latest checkpoint signed (every pass signs what it adds)."""
    if latest is None:
        if frontier.size:
            raise TreeTampered(f"the tree holds {frontier.size} entries but no checkpoint signs them")
        return
    if latest.tree_size != frontier.size:
        raise TreeTampered(f"the tree says it holds {frontier.size} entries but the latest checkpoint signs {latest.tree_size}")
    if latest.root_hash != frontier.root():
        raise TreeTampered(f"the stored tree of {frontier.size} entries does not hash to the signed root")


def _chains(conn: Connection, subjects: set[str]) -> dict[str, tuple[int, int | None]]:
    if not subjects:
        return {}
    rows = conn.execute(select(audit_subject_chains.c.subject_ref, audit_subject_chains.c.entries, audit_subject_chains.c.last_index)
                        .where(audit_subject_chains.c.subject_ref.in_(subjects))).all()
    return {subject: (count, last) for subject, count, last in rows}


def sign_checkpoint(conn: Connection, keys: SigningKeys, size: int, root: bytes, now: datetime, origin: str = DEFAULT_ORIGIN) -> Checkpoint:
    """Sign and keep a checkpoint of the tree at ``size`` leaves whose root the caller computed: as a
    JWS, and as a C2SP signed note under the log's origin, with the same key, for witnesses."""
    key = keys.key(KeyUse.CHECKPOINT)
    payload = {"tree_size": size, "root_hash": root.hex(), "timestamp": iso_utc(now)}
    token = jws.serialize_compact(
        {"alg": SIGNING_ALGORITHM, "kid": key.kid, "typ": CHECKPOINT_TYPE},
        json.dumps(payload, sort_keys=True, separators=(",", ":")).encode(), key, algorithms=[SIGNING_ALGORITHM],
    )
    private = key.private_key
    if not isinstance(private, Ed25519PrivateKey):
        raise TypeError("the checkpoint key is not an Ed25519 private key")
    signed_note = note.sign_note(note.checkpoint_body(origin, size, root), origin, private)
    conn.execute(insert(audit_checkpoints).values(tree_size=size, jws=token, note=signed_note))
    return Checkpoint(size, root, now, token, signed_note)


def checkpoint_of(token: str, note: str | None, jwks: dict[str, Any]) -> Checkpoint:
    """What a kept checkpoint signs; ``ValueError`` when its signature does not verify."""
    payload = verify_checkpoint(token, jwks)
    return Checkpoint(payload["tree_size"], bytes.fromhex(payload["root_hash"]), datetime.fromisoformat(payload["timestamp"]), token, note)


def latest_checkpoint(conn: Connection, keys: SigningKeys) -> Checkpoint | None:
    """The latest kept checkpoint, read from its verified signature; ``TreeTampered`` if it does not verify."""
    row = conn.execute(select(audit_checkpoints.c.tree_size, audit_checkpoints.c.jws, audit_checkpoints.c.note)
                       .order_by(audit_checkpoints.c.tree_size.desc()).limit(1)).first()
    if row is None:
        return None
    try:
        found = checkpoint_of(row.jws, row.note, keys.jwks())
    except ValueError as exc:
        raise TreeTampered(f"the latest kept checkpoint does not verify: {exc}") from None
    if found.tree_size != row.tree_size:
        raise TreeTampered(f"a kept checkpoint's row says {row.tree_size} entries but its signature says {found.tree_size}")
    return found


# -- what verification checks besides the hashes -------------------------------------------

# The leaf's columns against its hashed bytes: the bytes are canonical JSON, where every unescaped
# quote is structural, so a match of '"chain":{"n":...' can only be the chain member. The subject is
# the last member but the format's ("subject":...,"v":N}, keys being sorted): the tail of the bytes
# is compared, cheaper than a search. A leaf with chain columns must carry them in its bytes; one
# without, about a subject, must be of format 1; the time must be the leaf's own (a leaf of format 1
# wrote no microseconds when they were zero). The format-1 test runs only where the others leave it
# to decide. Leaves of format 1 predate the chain and the fixed time format: only their subject is
# compared. The patterns are bytes, compared with the bytes as stored.
_COLUMNS_DISAGREE_SQLITE = """
SELECT min(leaf_index) FROM audit_leaves
WHERE (substr(canonical, -length(CAST(',"subject":' || coalesce('"' || subject_ref || '"', 'null') || ',"v":2}' AS BLOB)))
         != CAST(',"subject":' || coalesce('"' || subject_ref || '"', 'null') || ',"v":2}' AS BLOB)
       AND substr(canonical, -length(CAST(',"subject":' || coalesce('"' || subject_ref || '"', 'null') || ',"v":1}' AS BLOB)))
         != CAST(',"subject":' || coalesce('"' || subject_ref || '"', 'null') || ',"v":1}' AS BLOB))
   OR (chain_n IS NOT NULL AND (subject_ref IS NULL OR coalesce(instr(canonical, CAST(
       '"chain":{"n":' || chain_n || ',"prev":' || coalesce(chain_prev, 'null') || '}' AS BLOB)), 0) = 0))
   OR (chain_n IS NULL AND subject_ref IS NOT NULL AND instr(canonical, CAST('"v":1}' AS BLOB)) = 0)
   OR (instr(canonical, CAST('"at":"' || replace(at, ' ', 'T') || '+00:00"' AS BLOB)) = 0
       AND instr(canonical, CAST('"v":1}' AS BLOB)) = 0)
"""


def _ends_with_postgresql(tail: str) -> str:
    """SQL: the leaf's bytes end with the UTF-8 bytes of ``tail``, an SQL text expression.
    (PostgreSQL's ``substr`` takes no start from the end, as SQLite's does.)"""
    return f"substr(canonical, octet_length(canonical) + 1 - octet_length(convert_to({tail}, 'UTF8'))) = convert_to({tail}, 'UTF8')"


# The same tests as SQLite's, as a condition on one row of audit_leaves: true when the leaf
# disagrees, or when a column it compares is NULL (the schema allows none there). Two changes make
# it cheaper, each a stricter test that every leaf the sequencer writes passes: the subject is
# compared with the tail of the bytes (a search read the whole bytes of every leaf), and the
# patterns searched start with the byte that always precedes their member, keys being sorted (the
# chain follows the categories' list, the time the actor object): PostgreSQL's search compares the
# whole pattern wherever its first byte occurs, and a quote occurs some fifty times before them.
_SUBJECT_V2 = _ends_with_postgresql(""" ',"subject":' || coalesce('"' || subject_ref || '"', 'null') || ',"v":2}' """.strip())
_SUBJECT_V1 = _ends_with_postgresql(""" ',"subject":' || coalesce('"' || subject_ref || '"', 'null') || ',"v":1}' """.strip())
_FORMAT_1 = """substr(canonical, octet_length(canonical) - 5) = '"v":1}'::bytea"""
_COLUMNS_DISAGREE_POSTGRESQL = f"""coalesce(
  NOT {_SUBJECT_V2} AND NOT {_SUBJECT_V1}
  OR chain_n IS NOT NULL AND (subject_ref IS NULL OR position(convert_to(
     '],"chain":{{"n":' || chain_n || ',"prev":' || coalesce(chain_prev::text, 'null') || '}}', 'UTF8') IN canonical) = 0)
  OR chain_n IS NULL AND subject_ref IS NOT NULL AND NOT {_FORMAT_1}
  OR position(convert_to('}},"at":"' || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00"', 'UTF8')
              IN canonical) = 0
     AND NOT {_FORMAT_1},
  true)"""

# Each subject's leaves in order: each leaf's chain position must count the subject's leaves before
# it and name the last of them. (The column scan above ties these columns to the bytes.) On SQLite
# this reads the covering index alone.
_CHAIN_BROKEN = """
SELECT min(leaf_index) FROM (
  SELECT leaf_index, chain_n, chain_prev, lag(leaf_index) OVER w AS prev, row_number() OVER w - 1 AS n
  FROM audit_leaves WHERE subject_ref IS NOT NULL
  WINDOW w AS (PARTITION BY subject_ref ORDER BY leaf_index)
) AS ordered WHERE chain_n IS NOT NULL AND (chain_n <> n OR chain_prev IS NULL AND prev IS NOT NULL
                                            OR chain_prev IS NOT NULL AND (prev IS NULL OR chain_prev <> prev))
"""

# On PostgreSQL the three checks are one statement, one pass over the table: its covering index
# is no help there, since an index-only scan still reads the table for every row until VACUUM has
# marked its pages all-visible (900,000 random reads for a fresh log of 1,000,000 entries: 4 s).
# So the table is read once, in order, each row's column test computed as it is read (OFFSET 0
# keeps it there: the planner would otherwise carry the bytes through the sort and test them
# after); the rows, now narrow, are sorted by subject for the chain positions (bytewise, COLLATE
# "C": the same groups as the default collation, which is deterministic, for half the sort's
# time); and the sorted rows give each subject's count and last leaf for the chains' table
# without another scan or sort.
_LEAVES_DISAGREE_POSTGRESQL = f"""
SELECT min(subjects.first_bad),
       count(*) FILTER (WHERE subjects.subject_ref IS NOT NULL
                              AND (kept.subject_ref IS NULL OR kept.entries <> subjects.entries
                                   OR kept.last_index <> subjects.last_index)
                           OR subjects.subject_ref IS NULL AND kept.subject_ref IS NOT NULL)
FROM (
  SELECT subject_ref, count(*) AS entries, max(leaf_index) AS last_index,
         min(leaf_index) FILTER (WHERE columns_disagree
                                    OR subject_ref IS NOT NULL AND chain_n IS NOT NULL
                                       AND (chain_n <> n OR chain_prev IS DISTINCT FROM prev)) AS first_bad
  FROM (
    SELECT leaf_index, subject_ref, chain_n, chain_prev, columns_disagree,
           row_number() OVER w - 1 AS n, lag(leaf_index) OVER w AS prev
    FROM (SELECT leaf_index, subject_ref COLLATE "C" AS subject_ref, chain_n, chain_prev,
                 {_COLUMNS_DISAGREE_POSTGRESQL} AS columns_disagree
          FROM audit_leaves OFFSET 0) AS leaves
    WINDOW w AS (PARTITION BY subject_ref ORDER BY leaf_index)
  ) AS ordered
  GROUP BY subject_ref
) AS subjects
FULL JOIN audit_subject_chains AS kept ON kept.subject_ref = subjects.subject_ref
"""

# For these statements, per transaction: JIT compiling takes longer than it saves here, and
# parallel workers would take the core the hashing runs on beside them.
_POSTGRESQL_SETTINGS = ("SET LOCAL jit = off", "SET LOCAL max_parallel_workers_per_gather = 0")


def leaves_disagree(conn: Connection) -> tuple[int | None, str | None]:
    """The first leaf whose columns (subject, time, chain position) disagree with its hashed bytes
    or whose chain position does not follow its subject's leaves before it, if any; and what is
    wrong with the chains' table, if anything."""
    if conn.dialect.name != "postgresql":
        bad = [index for index in (columns_disagree(conn), chain_broken(conn)) if index is not None]
        return min(bad, default=None), chain_mismatch(conn)
    for setting in _POSTGRESQL_SETTINGS:
        conn.exec_driver_sql(setting)
    first_bad, wrong = conn.exec_driver_sql(_LEAVES_DISAGREE_POSTGRESQL).one()
    return first_bad, _chains_wrong(wrong)


def columns_disagree(conn: Connection) -> int | None:
    """The first leaf whose columns disagree with its hashed bytes, if any."""
    if conn.dialect.name == "postgresql":
        sql = f"SELECT min(leaf_index) FROM audit_leaves WHERE {_COLUMNS_DISAGREE_POSTGRESQL}"
    else:
        sql = _COLUMNS_DISAGREE_SQLITE
    found: int | None = conn.exec_driver_sql(sql).scalar()
    return found


def chain_broken(conn: Connection) -> int | None:
    """The first leaf whose chain position does not follow its subject's leaves before it, if any."""
    found: int | None = conn.exec_driver_sql(_CHAIN_BROKEN).scalar()
    return found


def chain_mismatch(conn: Connection) -> str | None:
    """What is wrong with the chains' table, if anything: each subject's count and last index must
    be those of the leaves about them (the sequencer builds the next entries' chains from it)."""
    counted = select(audit_leaves.c.subject_ref, func.count().label("entries"), func.max(audit_leaves.c.leaf_index).label("last_index")) \
        .where(audit_leaves.c.subject_ref.is_not(None)).group_by(audit_leaves.c.subject_ref).subquery()
    kept = audit_subject_chains
    differs = select(func.count()).select_from(counted.join(kept, kept.c.subject_ref == counted.c.subject_ref, full=True)).where(
        or_(kept.c.subject_ref.is_(None), counted.c.subject_ref.is_(None), kept.c.entries != counted.c.entries,
            kept.c.last_index != counted.c.last_index))
    return _chains_wrong(conn.execute(differs).scalar_one())


def _chains_wrong(wrong: int) -> str | None:
    return f"{wrong} subjects' chain positions do not match their entries" if wrong else None


def stored_nodes(conn: Connection) -> list[tuple[int, int, bytes]]:
    """Every stored subtree hash as (level, index, hash), in the order a streaming rebuild completes them.

    Read through the driver's cursor: verification reads them (125,000 for a million leaves) on the
    hashing thread before it starts, where SQLAlchemy's rows cost four times the query.
    """
    driver = conn.connection.dbapi_connection
    # psycopg sends bytea as hex text unless asked for the binary format, which costs more to read.
    cursor = driver.cursor(binary=True) if conn.dialect.name == "postgresql" else driver.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute('SELECT level, "index", hash FROM audit_nodes ORDER BY ("index" + 1) << level, level')
        return [(level, index, bytes(h)) for level, index, h in cursor.fetchall()]
    finally:
        cursor.close()


# -- reading every leaf ---------------------------------------------------------------------

PAGE = 10_000


def leaves(conn: Connection) -> Iterator[tuple[int, bytes, bytes | None]]:
    """Every leaf in order, a page at a time, through the driver's cursor (a million rows is
    the common case here, and the ORM's row objects would cost more than the hashing).

    On PostgreSQL the next page is fetched on a thread of its own while this one is hashed: the
    server, another process, prepares it meanwhile instead of waiting for the hashing. SQLite runs
    in this process under the same interpreter lock, where a second thread would only take turns.
    """
    pages = _pages(conn) if conn.dialect.name == "sqlite" else _prefetched(conn)
    for page in pages:
        for index, canonical, recorded in page:
            yield index, bytes(canonical), bytes(recorded)


def _pages(conn: Connection, stop: threading.Event | None = None) -> Iterator[list[Any]]:
    placeholder = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (f"SELECT leaf_index, canonical, leaf_hash FROM audit_leaves WHERE leaf_index > {placeholder} "
           f"ORDER BY leaf_index LIMIT {PAGE}")
    driver = conn.connection.dbapi_connection
    # psycopg sends bytea as hex text unless asked for the binary format, which costs more to read.
    cursor = driver.cursor(binary=True) if conn.dialect.name == "postgresql" else driver.cursor()  # type: ignore[union-attr]
    try:
        after = -1
        while stop is None or not stop.is_set():
            cursor.execute(sql, (after,))
            rows = list(cursor.fetchall())
            if rows:
                yield rows
            if len(rows) < PAGE:
                return
            after = rows[-1][0]
    finally:
        cursor.close()


def _prefetched(conn: Connection) -> Iterator[list[Any]]:
    """``_pages``, fetched one page ahead on another thread."""
    pages: queue.Queue[list[Any] | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for page in _pages(conn, stop):
                pages.put(page)
            pages.put(None)
        except BaseException as exc:
            pages.put(exc)

    fetcher = threading.Thread(target=fetch, name="audit-verify-fetch", daemon=True)
    fetcher.start()
    try:
        while (page := pages.get()) is not None:
            if isinstance(page, BaseException):
                raise page
            yield page
    finally:
        stop.set()
        while fetcher.is_alive():  # let it finish its page and leave the connection free
            try:
                pages.get(timeout=0.1)
            except queue.Empty:
                pass
        fetcher.join()

"""The audit log's storage: appending, sequencing appended entries into the Merkle tree, reading it back.

``append`` runs inside the transaction of the access it records: one insert into the queue, so
the entry exists exactly when the access does (invariant 2). ``integrate`` takes the committed
entries in order, numbers them from the tree's size on without gaps, stores their leaves and the
hash of every complete subtree of 16 leaves or more, and signs a checkpoint when enough entries or time have passed. Only
``integrate`` locks the tree's row, so audited requests never wait on each other.
"""

from __future__ import annotations

import functools
import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import jws
from sqlalchemy import BigInteger, LargeBinary, bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from audit.entries import Entry
from audit.merkle import Frontier, SubtreeReader, complete_subtree_hash, frontier_positions, leaf_hash, root_hash
from audit.models import audit_checkpoints, audit_leaves, audit_nodes, audit_queue, audit_tree
from core.db import Prepared
from core.identity.signing import SIGNING_ALGORITHM, KeyUse, SigningKeys
from core.models import as_utc, iso_utc

CHECKPOINT_TYPE = "audit-checkpoint+jws"


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: bytes
    timestamp: datetime
    jws: str

    def as_dict(self) -> dict[str, Any]:
        return {"tree_size": self.tree_size, "root_hash": self.root_hash.hex(), "timestamp": iso_utc(self.timestamp), "jws": self.jws}


_APPEND = Prepared(insert(audit_queue).values(
    canonical=bindparam("canonical"), subject_ref=bindparam("subject_ref"), actor_id=bindparam("actor_id"),
    decision=bindparam("decision"), at=bindparam("at"),
))


def append(conn: Connection, entry: Entry) -> None:
    """Record ``entry`` in the caller's transaction (every request does: a prepared statement)."""
    _APPEND.run(conn, {"canonical": entry.canonical(), "subject_ref": entry.subject_ref, "actor_id": entry.actor_id,
                       "decision": entry.decision, "at": entry.at})


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


@functools.cache
def _queued(batch: int) -> Prepared:
    return Prepared(select(audit_queue.c.id, audit_queue.c.canonical).order_by(audit_queue.c.id).limit(batch))


# A queued entry becomes a leaf inside the database: only its id, number and hash cross to Python.
_TO_LEAF = Prepared(insert(audit_leaves).from_select(
    ["leaf_index", "leaf_hash", "canonical", "subject_ref", "actor_id", "decision", "at"],
    select(bindparam("leaf_index", type_=BigInteger), bindparam("leaf_hash", type_=LargeBinary), audit_queue.c.canonical,
           audit_queue.c.subject_ref, audit_queue.c.actor_id, audit_queue.c.decision, audit_queue.c.at)
    .where(audit_queue.c.id == bindparam("id")),
))
_STORE_NODE = Prepared(insert(audit_nodes).values(level=bindparam("level"), index=bindparam("index"), hash=bindparam("hash")))
# One id at a time, never a range: on PostgreSQL an entry with a smaller id may commit after
# the batch was read, and a range would delete it unsequenced.
_DEQUEUE = Prepared(delete(audit_queue).where(audit_queue.c.id == bindparam("id")))


def integrate(conn: Connection, keys: SigningKeys, now: datetime, *, batch: int = 5000,
              checkpoint_every: int = 1000, checkpoint_after: timedelta = timedelta(seconds=60)) -> int:
    """Move committed queued entries into the tree, in order; return how many were added.

    The caller's transaction must be a write transaction (it locks the tree's row).
    """
    size = tree_size(conn, lock=True)
    rows = _queued(batch).rows(conn, {})
    if rows:
        read = subtree_reader(conn)
        frontier = Frontier(size, [read(level, index) for level, index in frontier_positions(size)])
        leaves, nodes = [], []
        for queued_id, canonical in rows:
            digest = leaf_hash(canonical)
            leaves.append({"id": queued_id, "leaf_index": frontier.size, "leaf_hash": digest})
            nodes += [{"level": level, "index": index, "hash": h}
                      for level, index, h in frontier.append(digest) if level >= STORED_LEVEL]
        _TO_LEAF.run_many(conn, leaves)
        if nodes:
            _STORE_NODE.run_many(conn, nodes)
        _DEQUEUE.run_many(conn, leaves)
        conn.execute(update(audit_tree).where(audit_tree.c.id == 1).values(size=frontier.size))
        size = frontier.size
    latest = latest_checkpoint(conn)
    grown = size - (latest.tree_size if latest else 0)
    if grown > 0 and (grown >= checkpoint_every or latest is None or as_utc(latest.timestamp) + checkpoint_after <= now):
        sign_checkpoint(conn, keys, size, now)
    return len(rows)


def sign_checkpoint(conn: Connection, keys: SigningKeys, size: int, now: datetime) -> Checkpoint:
    """Sign and keep a checkpoint of the tree at ``size`` leaves."""
    root = root_hash(subtree_reader(conn), size)
    key = keys.key(KeyUse.CHECKPOINT)
    payload = {"tree_size": size, "root_hash": root.hex(), "timestamp": iso_utc(now)}
    token = jws.serialize_compact(
        {"alg": SIGNING_ALGORITHM, "kid": key.kid, "typ": CHECKPOINT_TYPE},
        json.dumps(payload, sort_keys=True, separators=(",", ":")).encode(), key, algorithms=[SIGNING_ALGORITHM],
    )
    conn.execute(insert(audit_checkpoints).values(tree_size=size, root_hash=root, timestamp=now, jws=token, kid=key.kid or ""))
    return Checkpoint(size, root, now, token)


def latest_checkpoint(conn: Connection) -> Checkpoint | None:
    row = conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.tree_size.desc()).limit(1)).first()
    return Checkpoint(row.tree_size, row.root_hash, row.timestamp, row.jws) if row else None


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

"""``dossier audit verify`` and ``dossier audit export``: the whole log against its signed checkpoints.

Verification integrates what is queued, then recomputes every leaf hash and the tree from the
stored entry bytes, and checks every kept checkpoint's signature and root with the public key.
A witness file in the instance folder (outside the database) remembers the last checkpoint that
verified, so that restoring an older database (a rollback) is detected too.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from audit import log
from audit.models import audit_checkpoints, audit_leaves
from audit.service import checkpoint_now, sequence
from audit.verifier import EXPORT_FORMAT, Report, verify_log
from core.files import write_private_json
from core.models import iso_utc
from core.runtime import Runtime

WITNESS_FILE = "audit-witness.json"
PAGE = 10_000


def _leaves(conn: Connection) -> Iterator[tuple[int, bytes, bytes | None]]:
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
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, which raises it
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
        report = verify_log(_leaves(conn), checkpoints, jwks, trusted, expected_size=log.tree_size(conn))
        latest = log.latest_checkpoint(conn)
    if report.ok and update_witness and latest is not None:
        write_private_json(witness_path, latest.as_dict())
    return report


def export(rt: Runtime, path: Path) -> int:
    """Write the log and its checkpoints as JSON lines for the stand-alone verifier; return the size."""
    sequence(rt)
    with rt.engine.connect() as conn, path.open("w", encoding="utf-8") as fh:
        size = log.tree_size(conn)
        count = conn.execute(select(func.count()).select_from(audit_leaves)).scalar_one()
        fh.write(json.dumps({"format": EXPORT_FORMAT, "tree_size": size, "exported_at": iso_utc(rt.clock()),
                             "leaves_present": count}) + "\n")
        for index, canonical, recorded in _leaves(conn):
            fh.write(json.dumps({"leaf_index": index, "leaf_hash": recorded.hex() if recorded else None,
                                 "entry": canonical.decode("utf-8")}, ensure_ascii=False) + "\n")
        for token in conn.execute(select(audit_checkpoints.c.jws).order_by(audit_checkpoints.c.tree_size)).scalars():
            fh.write(json.dumps({"checkpoint": token}) + "\n")
    return size

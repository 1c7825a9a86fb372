"""The database engine and schema migrations.

SQLite (the embedded default) runs in WAL mode with ``synchronous=NORMAL``: commits stay durable
against a process crash and are ~10 times faster than ``FULL`` (docs/design.md).
``secure_delete`` overwrites freed pages so that a destroyed data key does not linger in the file;
after an erasure, ``WalCleanup`` empties the WAL of the page images that still hold it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from config.logging import exception_summary

log = logging.getLogger("dossier")
BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, pool_size: int = 5) -> Engine:
    """An engine for ``url``, with the connection settings this service relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling is off (isolation_level None); we begin ourselves.
        # A write transaction begins IMMEDIATE: it takes the write lock first, so that what it
        # reads cannot change before it writes (a deferred one would fail with SQLITE_BUSY).
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # No pre-ping: it would cost a round trip on every checkout (docs/design.md: round trips
    # are the main lever); connections are recycled instead, and a dropped one fails one request.
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)


WRITE_OPTION = "dossier_write"
SINGLE_READ_OPTION = "dossier_single_read"


def single_read(engine: Engine) -> Connection:
    """A connection for one read statement, outside any transaction: no BEGIN, no ROLLBACK.

    NOTE: on SQLite this skips our BEGIN (an isolation-level switch would cost two PRAGMAs);
    on PostgreSQL it is psycopg's autocommit, a client-side switch.
    """
    if engine.dialect.name == "sqlite":
        return engine.connect().execution_options(**{SINGLE_READ_OPTION: True})
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def _sqlite_begin(conn: Connection) -> None:
    options = conn.get_execution_options()
    if options.get(SINGLE_READ_OPTION):
        return  # one read statement needs no transaction (see single_read)
    # Straight to the driver: this runs on every request, and SQLAlchemy's statement path is
    # most of its cost.
    conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if options.get(WRITE_OPTION) else "BEGIN")  # type: ignore[union-attr]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "secure_delete=ON",
        f"busy_timeout={BUSY_TIMEOUT_MS}",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """Alembic's configuration, pointing at the migrations shipped inside the package."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("migrations")))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision``."""
    with engine.connect() as connection, foreign_keys_deferred(connection):
        command.upgrade(alembic_config(connection), revision)


@contextmanager
def foreign_keys_deferred(connection: Connection) -> Iterator[None]:
    """A migration's transaction on ``connection``, with SQLite's foreign keys checked at its end.

    NOTE: SQLite changes a table's constraints by rebuilding it (Alembic's batch mode), which drops
    the old table while other tables still refer to it; with foreign keys on, that fails on any
    populated database. They are switched off for the migration (outside a transaction, where the
    pragma takes effect), every reference is checked before the commit, and they are switched on
    again. PostgreSQL alters tables in place: nothing to do.
    """
    sqlite = connection.dialect.name == "sqlite"
    driver = connection.connection.dbapi_connection
    if sqlite:
        driver.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    try:
        with connection.begin():
            yield
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration left {len(broken)} broken references; rolled back")
    finally:
        if sqlite:
            driver.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def schema_is_current(connection: Connection) -> bool:
    """True when the database is at the newest migration."""
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads


def upsert(conn: Connection, table: Table, values: dict[str, Any] | list[dict[str, Any]], keys: Sequence[str],
           changes: Sequence[str]) -> None:
    """Insert ``values`` (a row, or many in one executemany), or update the ``changes`` columns of the
    row with the same ``keys`` (``INSERT ... ON CONFLICT DO UPDATE``, which SQLite and PostgreSQL both have)."""
    insert_ = sqlite_insert(table) if conn.dialect.name == "sqlite" else postgresql_insert(table)
    statement = insert_.on_conflict_do_update(index_elements=list(keys), set_={name: insert_.excluded[name] for name in changes})
    conn.execute(statement, values if isinstance(values, list) else [values])


class Prepared:
    """A hot statement run on the driver's cursor, skipping SQLAlchemy's per-execution machinery.

    The SQL, the order of its parameters and the constants bound in it come from SQLAlchemy's own
    compilation (once per dialect); each value goes through the bind processor SQLAlchemy would
    apply, and each result column through its result processor, so the statement behaves as
    ``conn.execute(statement, parameters)`` does; only the overhead goes (docs/design.md:
    statement overhead is most of an audited read). Used for the few statements every request
    runs; everything else goes through SQLAlchemy as usual.
    """

    def __init__(self, statement: Any) -> None:
        self._statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, conn: Connection) -> _Compiled:
        dialect = conn.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self._statement.compile(dialect=dialect)
            names = compiled.positiontup if compiled.positional else list(compiled.binds)
            binds = [(name, compiled._bind_processors.get(name), compiled.binds[name]) for name in names]
            processors = [
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in getattr(self._statement, "selected_columns", [])
            ]
            results = [(i, p) for i, p in enumerate(processors) if p is not None]
            found = self._compiled[dialect.name] = _Compiled(str(compiled), binds, bool(compiled.positional), results)
        return found

    def rows(self, conn: Connection, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        compiled = self._for(conn)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, compiled.values(parameters))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        if not compiled.results:
            return list(rows)
        processed = []
        for row in rows:
            values = list(row)
            for i, processor in compiled.results:
                values[i] = processor(values[i])
            processed.append(tuple(values))
        return processed

    def run(self, conn: Connection, parameters: dict[str, Any]) -> None:
        compiled = self._for(conn)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, compiled.values(parameters))
        finally:
            cursor.close()

    def run_many(self, conn: Connection, parameters: Iterable[dict[str, Any]]) -> None:
        """The statement once per set of parameters, in one driver call (executemany)."""
        compiled = self._for(conn)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(compiled.sql, [compiled.values(p) for p in parameters])
        finally:
            cursor.close()


class _Compiled:
    __slots__ = ("binds", "positional", "results", "sql")

    def __init__(self, sql: str, binds: list[tuple[str, Any, Any]], positional: bool,
                 results: list[tuple[int, Any]]) -> None:
        self.sql, self.binds, self.positional, self.results = sql, binds, positional, results

    def values(self, parameters: dict[str, Any]) -> Any:
        values = []
        for name, processor, bind in self.binds:
            value = parameters[name] if name in parameters else bind.effective_value
            values.append(processor(value) if processor else value)
        return tuple(values) if self.positional else dict(zip((b[0] for b in self.binds), values, strict=True))


class WriterLock:
    """Serialises SQLite write transactions across the workers of one instance, without sleeping.

    SQLite admits one writer at a time; a connection that finds the lock taken waits in its busy
    handler, which sleeps 1, 2, 5, 10 ... milliseconds between tries, so under load writers spend
    more time asleep than writing (docs/design.md). Every audited request writes (its audit
    entry), so the workers queue here instead: on a lock file, released the instant the holder
    commits, and on a thread lock for threads of one process (the background sequencer).
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self._thread_lock = threading.Lock()

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


def writer_lock(engine: Engine) -> WriterLock | None:
    """The writer lock of a SQLite database file; None for other databases (they need none)."""
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return None
    return WriterLock(Path(engine.url.database + ".writer-lock"))


# -- after an erasure: the WAL's old page images (SQLite) ------------------------------------


def truncate_wal(engine: Engine, lock: WriterLock) -> bool:
    """One checkpoint that copies the WAL into the database file and empties it, without waiting:
    True when it did (no frame is left), False when a reader still needs older page images.

    NOTE: a TRUNCATE checkpoint waits in the busy handler for readers of older snapshots, and
    keeps every writer out while it waits; with the busy timeout at 0 it gives up at once instead
    (SQLite then checkpoints what it can, like a PASSIVE one). Taken under the writer lock, writers
    queue on it rather than in SQLite's busy handler, for the few milliseconds the copy takes.
    """
    with engine.connect() as conn, lock.held():
        driver: Any = conn.connection.dbapi_connection
        driver.execute("PRAGMA busy_timeout=0")
        try:
            busy, frames, _copied = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # frames is -1 when the database is not in WAL mode: nothing to empty.
    return bool(busy == 0 and frames <= 0)


class WalCleanup:
    """Empties a SQLite database's WAL after an erasure, retrying until no reader prevents it.

    An erasure overwrites the data key in its new page images (``secure_delete``), but the WAL
    still holds the older images until a checkpoint copies the new ones into the database file
    and the WAL is truncated; a reader that began before the erasure (a backup, an export) keeps
    both from happening until it ends. ``request`` tries once at once, without waiting; if a
    reader is in the way, a thread of its own tries again, more and more rarely (up to
    ``max_delay`` apart), until a checkpoint begun after the request empties the WAL. ``wait``
    says when that has happened: the cleanup is checked, not hoped for.
    """

    def __init__(self, engine: Engine, lock: WriterLock, first_delay: float = 0.02, max_delay: float = 1.0) -> None:
        self._engine = engine
        self._lock = lock
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._changed = threading.Condition()
        self._requested = 0  # requests so far
        self._completed = 0  # requests that a completed checkpoint began after
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> bool:
        with self._changed:
            return self._completed < self._requested

    def request(self) -> bool:
        """Empty the WAL of everything committed so far; True if done before returning, else the
        retries go on in the background."""
        with self._changed:
            self._requested += 1
            ticket = self._requested
        if self._attempt(ticket):
            return True
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(target=self._retry, name="dossier-wal-cleanup", daemon=True)
                self._thread.start()
        return False

    def wait(self, timeout: float | None = None) -> bool:
        """True once every request so far is done; False if ``timeout`` seconds pass first."""
        with self._changed:
            return self._changed.wait_for(lambda: self._completed >= self._requested, timeout)

    def _attempt(self, ticket: int) -> bool:
        try:
            emptied = truncate_wal(self._engine, self._lock)
        except Exception as exc:  # the database is unreachable for now: try again later
            log.warning("WAL cleanup failed, will retry", extra={"error": exception_summary(exc)})
            return False
        if emptied:
            with self._changed:
                self._completed = max(self._completed, ticket)
                self._changed.notify_all()
        return emptied

    def _retry(self) -> None:
        delay, attempts = self._first_delay, 0
        while True:
            with self._changed:
                # The ticket is read before the attempt: its checkpoint begins after those requests.
                ticket = self._requested
                if self._completed >= ticket:
                    self._thread = None
                    log.info("WAL emptied after an erasure", extra={"attempts": attempts})
                    return
            time.sleep(delay)
            attempts += 1
            if not self._attempt(ticket):
                delay = min(delay * 2, self._max_delay)


def wal_cleanup(engine: Engine, lock: WriterLock | None) -> WalCleanup | None:
    """The WAL cleanup of a SQLite database file; None for other databases (their old row
    versions are dealt with by retiring key-encryption keys: docs/erasure.md)."""
    return WalCleanup(engine, lock) if lock is not None else None

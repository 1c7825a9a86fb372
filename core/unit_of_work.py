"""The unit of work: one user action, one transaction, and what runs once it has committed.

Every user action writes (at least its audit entry), so on SQLite the transaction takes the write
lock when it begins (``BEGIN IMMEDIATE``, queued on the instance's writer lock file): what it reads
cannot change before it writes. On PostgreSQL the statements lock what they need.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from config.logging import exception_summary
from core.db import WRITE_OPTION, WalCleanup, wal_cleanup, writer_lock
from core.errors import Refusal

log = logging.getLogger("dossier")
_AFTER_COMMIT = "dossier_after_commit"


class UnitOfWork:
    """Opens the transactions of one database: commits on success, rolls back on error."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer_lock = writer_lock(engine)
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})
        # SQLite only: empties the WAL after an erasure (core.db.WalCleanup).
        self.wal_cleanup: WalCleanup | None = wal_cleanup(engine, self._writer_lock)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One user action.

        NOTE: a refused act (``core.errors.Refusal``) still commits, so that the record of the
        refusal is kept (invariant 2); the refusal is raised before anything else is written.

        What ``after_commit`` registers runs once the transaction has committed and its locks are
        released (delivering events to plugins, asking them to purge): not after a rollback, nor
        after a refusal's commit (which wrote its audit entry and nothing else).
        """
        callbacks: list[Callable[[], object]] = []
        # The connection is checked out before the writer lock is taken and returned after it is
        # released: the lock covers the transaction alone.
        lock = self._writer_lock.held() if self._writer_lock else nullcontext()
        with self._write_engine.connect() as conn, lock:
            conn.info[_AFTER_COMMIT] = callbacks
            conn.begin()
            try:
                yield conn
            except Refusal:
                conn.commit()
                raise
            except BaseException:
                conn.rollback()
                raise
            finally:
                conn.info.pop(_AFTER_COMMIT, None)
                conn.info.pop(_AFTER_COMMIT + ":names", None)
            conn.commit()
        for callback in callbacks:
            # NOTE: the action has committed: what follows it (delivering events, asking plugins to
            # purge) must not turn it into an error, nor stop the next callback; the background
            # worker takes up whatever is left pending.
            try:
                callback()
            except Exception as exc:
                log.error("after-commit work failed", extra={"error": exception_summary(exc)})

    def forget_old_versions(self) -> None:
        """After an erasure has committed: have the old page images that still hold the erased data
        key dropped, without waiting for readers (SQLite's WAL; ``wal_cleanup.wait`` says when).

        NOTE: on PostgreSQL, dead row versions last until VACUUM and nothing here can overwrite
        them; what makes them (and every backup) unreadable is retiring the key-encryption keys
        the data key was wrapped under (docs/erasure.md).
        """
        if self.wal_cleanup is not None:
            self.wal_cleanup.request()


def after_commit(conn: Connection, callback: Callable[[], object], once_as: str | None = None) -> None:
    """Run ``callback`` after the commit of the ``UnitOfWork.transaction`` that ``conn`` belongs to;
    with ``once_as``, once however often a callback of that name is registered."""
    try:
        callbacks = conn.info[_AFTER_COMMIT]
    except KeyError:
        raise RuntimeError("after_commit needs a connection of UnitOfWork.transaction") from None
    if once_as is not None:
        names = conn.info.setdefault(_AFTER_COMMIT + ":names", set())
        if once_as in names:
            return
        names.add(once_as)
    callbacks.append(callback)

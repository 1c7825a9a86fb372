"""Background work of the server, done by one worker process of the instance at a time.

Every gunicorn worker starts the thread, but only the one holding the task's lock file in the
instance folder works: a worker that dies releases it, and another takes over at its next try.
Each pass must stay safe beside others (the CLI, a request, another instance on PostgreSQL):
the tasks lock what they change in the database, the lock file only saves the duplicated effort.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from config.logging import exception_summary

log = logging.getLogger("dossier.background")


class ElectedWorker:
    """A thread running ``task`` every ``interval`` seconds while it holds ``lock_path``.

    ``leading`` tells whether it holds the lock; ``wake`` runs the next pass at once.
    """

    def __init__(self, name: str, lock_path: Path, interval: float, task: Callable[[], object]) -> None:
        self.name = name
        self._lock_path = lock_path
        self._interval = interval
        self._task = task
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.leading = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                self._wake.wait(self._interval)
                self._wake.clear()
                if self._stop.is_set():
                    return
                if not self.leading:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # another worker does it
                    self.leading = True
                try:
                    self._task()
                except Exception as exc:
                    log.error("background task failed", extra={"task": self.name, "error": exception_summary(exc)})
        finally:
            os.close(fd)  # releases the lock for another worker

"""A background thread in the server that sequences queued audit entries into the tree.

Every worker starts one, but only one at a time works: the one holding the instance's sequencer
lock file (a worker that dies releases it, and another takes over at its next try). Sequencers
elsewhere (the CLI, reads of the log) stay safe beside it: each pass locks the tree's row.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading

from audit.service import sequence
from config.logging import exception_summary
from core.runtime import Runtime

log = logging.getLogger("dossier.audit")
LOCK_FILE = "audit-sequencer.lock"


class BackgroundSequencer:
    """The thread; ``leading`` tells whether it holds the lock and does the work."""

    def __init__(self, rt: Runtime, interval: float) -> None:
        self._rt = rt
        self._interval = interval
        self._stop = threading.Event()
        self.leading = False
        self._thread = threading.Thread(target=self._run, name="audit-sequencer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        fd = os.open(self._rt.settings.instance_path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while not self._stop.wait(self._interval):
                if not self.leading:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # another worker sequences
                    self.leading = True
                try:
                    sequence(self._rt)
                except Exception as exc:  # noqa: BLE001 - the next pass tries again; the error is logged
                    log.error("audit sequencing failed", extra={"error": exception_summary(exc)})
        finally:
            os.close(fd)  # releases the lock for another worker


def start_background_sequencer(rt: Runtime, interval: float) -> BackgroundSequencer | None:
    """Start the thread (``interval`` seconds between passes); None when sequencing is off."""
    return BackgroundSequencer(rt, interval) if interval > 0 else None

"""A background thread in each server worker that sequences queued audit entries into the tree.

Sequencers in several workers or processes are safe together: each pass locks the tree's row.
"""

from __future__ import annotations

import logging
import threading

from audit.service import sequence
from config.logging import exception_summary
from core.runtime import Runtime

log = logging.getLogger("dossier.audit")


def start_background_sequencer(rt: Runtime, interval: float) -> threading.Thread | None:
    if interval <= 0:
        return None
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(interval):
            try:
                sequence(rt)
            except Exception as exc:  # noqa: BLE001 - the next pass tries again; the error is logged
                log.error("audit sequencing failed", extra={"error": exception_summary(exc)})

    thread = threading.Thread(target=run, name="audit-sequencer", daemon=True)
    thread.start()
    return thread

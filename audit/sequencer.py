"""A background thread in the server that sequences queued audit entries into the tree.

One worker of the instance does it at a time (core.background); sequencers elsewhere (the CLI,
reads of the log) stay safe beside it: each pass locks the tree's row.
"""

from __future__ import annotations

from audit.service import sequence
from core.background import ElectedWorker
from core.runtime import Runtime

LOCK_FILE = "audit-sequencer.lock"


def start_background_sequencer(rt: Runtime, interval: float) -> ElectedWorker | None:
    """Start the thread (``interval`` seconds between passes); None when sequencing is off."""
    if interval <= 0:
        return None
    return ElectedWorker("audit-sequencer", rt.settings.instance_path / LOCK_FILE, interval, lambda: sequence(rt))

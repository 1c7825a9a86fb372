"""``dossier worker``: the background work of the service, in a process of its own.

Each pass delivers queued plugin events, retries unconfirmed purges and sweeps lapsed consents
(core.plugins.worker), sends due deliveries (core.delivery.worker) and sequences queued audit
entries. Every task is safe beside others doing the same (deliveries are claimed with
``FOR UPDATE SKIP LOCKED`` and a lease, events are leased, the tree's row is locked), so any
number of workers may run against PostgreSQL; on the embedded SQLite the server does this work
itself and a worker is optional. SIGTERM or SIGINT ends the worker after the task in hand.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from config.logging import exception_summary
from core.plugins.gateway import PluginGateway
from core.runtime import Runtime

log = logging.getLogger("dossier.worker")


def one_pass(rt: Runtime, plugins: PluginGateway) -> dict[str, int]:
    """Every task once; what each did."""
    from audit.service import sequence
    from core.delivery.worker import deliver_due
    from core.plugins.worker import work

    done: dict[str, int] = {}
    tasks: list[tuple[str, Callable[[], dict[str, int]]]] = [
        ("plugins", lambda: work(rt, plugins)),
        ("deliveries", lambda: {"delivery_attempts": deliver_due(rt)}),
        ("audit", lambda: {"audit_entries_sequenced": sequence(rt)}),
    ]
    for name, task in tasks:
        try:
            done.update(task())
        except Exception as exc:
            # One failing task does not stop the others, nor the worker: the next pass tries again.
            log.error("worker task failed", extra={"task": name, "error": exception_summary(exc)})
    return done


def run_worker(rt: Runtime, plugins: PluginGateway, *, once: bool = False, interval: float = 1.0,
               report: Callable[[Any], None] = print) -> None:
    """Pass after pass until SIGTERM or SIGINT (or one pass, with ``once``)."""
    if once:
        report(one_pass(rt, plugins))
        return
    stop = threading.Event()

    def stopping(signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, stopping) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info("worker started", extra={"interval": interval})
    try:
        while not stop.is_set():
            done = one_pass(rt, plugins)
            if not any(done.values()):
                stop.wait(interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("worker stopped")

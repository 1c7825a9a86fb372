"""The server's background work for plugins: deliver queued events, retry unconfirmed purges,
and purge what lapsed consents no longer allow (one worker of the instance does it; core.background)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.background import ElectedWorker
from core.plugins import outbox, purges

if TYPE_CHECKING:
    from core.runtime import Runtime

LOCK_FILE = "plugin-worker.lock"


def work(rt: Runtime) -> dict[str, int]:
    """One pass; also what ``dossier plugins dispatch`` runs."""
    return {
        "events_delivered": outbox.dispatch_pending(rt),
        "purges_scheduled_for_lapsed_consents": purges.sweep_lapsed(rt),
        "purges_confirmed": purges.retry_due(rt),
    }


def start_background_worker(rt: Runtime) -> ElectedWorker | None:
    """Start the thread when there are plugins and events are not delivered inline."""
    interval = rt.settings.PLUGIN_DISPATCH_INTERVAL
    if not rt.plugins:
        return None
    # Inline delivery still needs the retries and the sweep, at a slower pace.
    worker = ElectedWorker("plugin-worker", rt.settings.instance_path / LOCK_FILE, interval or 5.0, lambda: work(rt))
    rt.plugins.worker = worker
    return worker

"""The server's background work for plugins: deliver queued events, retry unconfirmed purges,
and purge what lapsed consents no longer allow (one worker of the instance does it; core.background)."""

from __future__ import annotations

import time

from core.background import ElectedWorker
from core.plugins import idempotency, outbox, purges
from core.plugins.gateway import PluginGateway
from core.runtime import Runtime

LOCK_FILE = "plugin-worker.lock"


def work(rt: Runtime, plugins: PluginGateway) -> dict[str, int]:
    """One pass; also what ``dossier plugins dispatch`` runs."""
    return {
        "events_delivered": outbox.dispatch_pending(rt, plugins),
        "purges_scheduled_for_lapsed_consents": purges.sweep_lapsed(rt, plugins),
        "purges_confirmed": purges.retry_due(rt, plugins),
        "scheduled_plugins_run": run_scheduled(rt, plugins),
        "channel_keys_forgotten": idempotency.forget_expired(rt, rt.clock()),
    }


def run_scheduled(rt: Runtime, plugins: PluginGateway, force: bool = False) -> int:
    """The plugins' periodic work, if ``PLUGIN_SCHEDULE_INTERVAL`` has passed since this process
    last ran it (or with ``force``)."""
    now = time.monotonic()
    last = plugins.scheduled_at
    if not force and last is not None and now - last < rt.settings.PLUGIN_SCHEDULE_INTERVAL:
        return 0
    plugins.scheduled_at = now
    return plugins.scheduled()


def start_background_worker(rt: Runtime, plugins: PluginGateway) -> ElectedWorker | None:
    """Start the thread when there are plugins (events delivered inline still need the retries and
    the sweep, at a slower pace)."""
    if not plugins:
        return None
    interval = rt.settings.PLUGIN_DISPATCH_INTERVAL or 5.0
    worker = ElectedWorker("plugin-worker", rt.settings.instance_path / LOCK_FILE, interval, lambda: work(rt, plugins))
    plugins.worker = worker
    return worker

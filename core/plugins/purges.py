"""The purge protocol: when a purpose goes (or the seeker does), every plugin that held data under
it forgets it, and says so.

In the transaction of the withdrawal or erasure, ``schedule`` deletes the plugins' store entries
of that subject and purpose (noting each deletion in their change feeds), turns each holding into
a purge to confirm, and arranges for the purges to run once the transaction commits, before the
request answers (invariant 3). Each plugin is asked through the gateway once no call of it about
that seeker and purpose is still running; a ``Purged`` answer is the confirmation, recorded in the
audit log. Any other outcome is retried by the background worker, with a growing delay, and shown
to admins until confirmed. Consents that lapse without a withdrawal (expiry, a material notice)
are swept into purges by the worker too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.engine import Connection

from consent.store import live_consent_clause
from core.access import record
from core.dossier.store import lock_subject_for_update
from core.identity.roles import plugin_actor
from core.plugins import store
from core.plugins.calls import CallResult
from core.plugins.gateway import PluginGateway
from core.policy import Action, Decision
from core.runtime import Runtime
from core.unit_of_work import after_commit
from plugins.api import Purged

log = logging.getLogger("dossier.plugins")
MAX_DELAY = timedelta(hours=6)


class Cause(StrEnum):
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_LAPSED = "consent_lapsed"
    SUBJECT_ERASED = "subject_erased"


def schedule(rt: Runtime, plugins: PluginGateway, conn: Connection, subject_id: str, purpose: str | None, cause: Cause,
             now: datetime, request_id: str | None = None) -> list[str]:
    """In the caller's transaction: forget the subject's store entries (of ``purpose``, or all for
    an erasure) and ask each holder to purge after the commit; return the purges' ids."""
    holders = store.holdings_of(conn, subject_id, purpose)
    store.forget_subject(conn, subject_id, purpose)
    if not holders:
        return []
    # An erasure asks each plugin once, whatever it held; a purpose, once per plugin too.
    wanted = sorted({(row.plugin, None if cause is Cause.SUBJECT_ERASED else row.purpose) for row in holders}, key=str)
    # Claimed for the attempt made right after the commit: the worker takes it up only if that fails.
    ids = store.queue_purges(conn, subject_id, wanted, cause.value, now, now + _claim(rt), request_id)
    store.delete_holdings(conn, subject_id, purpose)
    after_commit(conn, lambda: run(rt, plugins, ids))
    return ids


def run(rt: Runtime, plugins: PluginGateway, ids: Sequence[str]) -> int:
    """Ask each plugin to confirm its purge; return how many confirmed."""
    if not ids:
        return 0
    with rt.engine.connect() as conn:
        rows = store.unconfirmed_purges(conn, ids)
    return sum(_attempt(rt, plugins, row) for row in rows)


def retry_due(rt: Runtime, plugins: PluginGateway) -> int:
    """Try again every unconfirmed purge whose delay has passed; return how many confirmed."""
    now = rt.clock()
    with rt.transaction() as conn:
        ids = store.claim_due_purges(conn, now, now + _claim(rt))
    return run(rt, plugins, ids)


def sweep_lapsed(rt: Runtime, plugins: PluginGateway) -> int:
    """Purges for holdings whose consent purpose is no longer live (expired, or a material notice
    since); return how many purges were scheduled."""
    now = rt.clock()
    consent_purposes = sorted(name for name, facts in plugins.purposes.items() if facts.legal_basis == "consent")
    if not consent_purposes:
        return 0
    with rt.engine.connect() as conn:
        lapsed = store.lapsed_holdings(conn, consent_purposes, now)
    scheduled = 0
    for subject_id, purpose in lapsed:
        with rt.transaction() as conn:
            # Looked at again under the subject's lock: a consent given again meanwhile stays.
            lock_subject_for_update(conn, subject_id)
            live = conn.execute(select(exists().where(live_consent_clause(subject_id, purpose, rt.clock())))).scalar()
            if not live:
                scheduled += len(schedule(rt, plugins, conn, subject_id, purpose, Cause.CONSENT_LAPSED, now))
    return scheduled


def _claim(rt: Runtime) -> timedelta:
    """How long an attempt may take (waiting for calls in flight, then the call): another worker
    leaves the purge alone meanwhile."""
    return timedelta(seconds=rt.settings.PLUGIN_TIMEOUT * 3 + 10)


def _attempt(rt: Runtime, plugins: PluginGateway, row: Any) -> bool:
    plugin = plugins.plugins.get(row.plugin)
    items: int | None = None
    error: str | None
    if plugin is None:
        outcome, error = False, "plugin_not_loaded"
    elif row.cause == Cause.SUBJECT_ERASED:
        outcome, error, items = _confirmed(plugins.subject_erased(plugin, row.subject_id))
    else:
        outcome, error, items = _confirmed(plugins.consent_withdrawn(plugin, row.subject_id, row.purpose))
    now = rt.clock()
    with rt.transaction() as conn:
        if outcome:
            if store.confirm_purge(conn, row.id, items or 0, now):  # once, even if two attempts raced
                # NOTE: the confirmation is the audit entry; a failure is shown to admins instead.
                purposes = (row.purpose,) if row.purpose else ()
                record(conn, plugin_actor(row.plugin, row.request_id),
                       Decision.recorded(Action.PLUGIN_PURGE, row.subject_id, purposes, f"{row.cause}:{items}"), now)
        else:
            delay = min(timedelta(seconds=rt.settings.PLUGIN_PURGE_RETRY_SECONDS * 2 ** row.attempts), MAX_DELAY)
            store.purge_failed(conn, row.id, error, now + delay)
            log.warning("plugin purge not confirmed", extra={"plugin": row.plugin, "purge_id": row.id, "cause": row.cause,
                                                             "attempts": row.attempts + 1, "error": error})
    return outcome


def _confirmed(result: CallResult) -> tuple[bool, str | None, int | None]:
    if not result.ok:
        return False, result.error or result.outcome.value, None
    # Exactly a Purged with a plain count: a subclass or an odd value would run the plugin's code here.
    answer = result.value
    if type(answer) is not Purged or type(answer.items) is not int or not 0 <= answer.items < 2**31:
        return False, "not_confirmed", None
    return True, None, answer.items

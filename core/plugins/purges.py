"""The purge protocol: when a purpose goes (or the seeker does), every plugin that held data under
it forgets it, and says so.

In the transaction of the withdrawal or erasure, ``schedule`` deletes the plugins' store entries
of that subject and purpose, turns each holding into a purge to confirm, and arranges for the
purges to run once the transaction commits, before the request answers (invariant 3). Each plugin
is called alone; a ``Purged`` answer is the confirmation, recorded in the audit log. Any other
outcome is retried by the background worker, with a growing delay, and shown to admins until
confirmed. Consents that lapse without a withdrawal (expiry, a material notice) are swept into
purges by the worker too.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, exists, insert, not_, select, update
from sqlalchemy.engine import Connection

from audit import log as audit_log
from consent.store import live_consent_clause
from core.plugins.calls import CallResult
from core.plugins.context import bounded, call_plugin
from core.plugins.models import plugin_holdings, plugin_purges, plugin_subject_data
from core.plugins.release import lock_subject_for_update, plugin_entry
from core.runtime import after_commit
from plugins.api import Purged

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger("dossier.plugins")

CONSENT_WITHDRAWN = "consent_withdrawn"
CONSENT_LAPSED = "consent_lapsed"
SUBJECT_ERASED = "subject_erased"
PURGE_ACTION = "plugin:data:purge"
MAX_DELAY = timedelta(hours=6)


def schedule(rt: Runtime, conn: Connection, subject_id: str, purpose: str | None, cause: str, now: datetime) -> list[str]:
    """In the caller's transaction: forget the subject's store entries (of ``purpose``, or all for
    an erasure) and ask each holder to purge after the commit; return the purges' ids."""
    holding = plugin_holdings.c.subject_id == subject_id
    stored = plugin_subject_data.c.subject_id == subject_id
    if purpose is not None:
        holding = and_(holding, plugin_holdings.c.purpose == purpose)
        stored = and_(stored, plugin_subject_data.c.purpose == purpose)
    holders = conn.execute(select(plugin_holdings.c.plugin, plugin_holdings.c.purpose).where(holding)).all()
    conn.execute(delete(plugin_subject_data).where(stored))
    if not holders:
        return []
    # An erasure asks each plugin once, whatever it held; a purpose, once per plugin too.
    wanted = sorted({(row.plugin, None if cause == SUBJECT_ERASED else row.purpose) for row in holders}, key=str)
    ids = [str(uuid.uuid4()) for _ in wanted]
    # Claimed for the attempt made right after the commit: the worker takes it up only if that fails.
    claimed = now + _claim(rt)
    conn.execute(insert(plugin_purges), [
        {"id": purge_id, "plugin": plugin, "subject_id": subject_id, "purpose": held_purpose, "cause": cause,
         "requested_at": now, "attempts": 0, "next_attempt_at": claimed}
        for purge_id, (plugin, held_purpose) in zip(ids, wanted, strict=True)
    ])
    conn.execute(delete(plugin_holdings).where(holding))
    after_commit(conn, lambda: run(rt, ids))
    return ids


def run(rt: Runtime, ids: Sequence[str]) -> int:
    """Ask each plugin to confirm its purge; return how many confirmed."""
    if not ids:
        return 0
    with rt.engine.connect() as conn:
        rows = conn.execute(select(plugin_purges).where(plugin_purges.c.id.in_(list(ids)),
                                                        plugin_purges.c.confirmed_at.is_(None))).all()
    return sum(_attempt(rt, row) for row in rows)


def retry_due(rt: Runtime) -> int:
    """Try again every unconfirmed purge whose delay has passed; return how many confirmed."""
    now = rt.clock()
    with rt.transaction() as conn:
        query = (select(plugin_purges.c.id)
                 .where(plugin_purges.c.confirmed_at.is_(None), plugin_purges.c.next_attempt_at <= now)
                 .order_by(plugin_purges.c.next_attempt_at).limit(100))
        ids = list(conn.execute(query.with_for_update(skip_locked=True)).scalars())
        if ids:
            # Claimed: another worker will not take them while these attempts run.
            conn.execute(update(plugin_purges).where(plugin_purges.c.id.in_(ids)).values(next_attempt_at=now + _claim(rt)))
    return run(rt, ids)


def sweep_lapsed(rt: Runtime) -> int:
    """Purges for holdings whose consent purpose is no longer live (expired, or a material notice
    since); return how many purges were scheduled."""
    now = rt.clock()
    consent_purposes = sorted(name for name, facts in rt.plugins.purposes.items() if facts.legal_basis == "consent")
    if not consent_purposes:
        return 0
    query = (
        select(plugin_holdings.c.subject_id, plugin_holdings.c.purpose).distinct()
        .where(plugin_holdings.c.purpose.in_(consent_purposes),
               not_(exists().where(live_consent_clause(plugin_holdings.c.subject_id, plugin_holdings.c.purpose, now))))
    )
    scheduled = 0
    with rt.engine.connect() as conn:
        lapsed = conn.execute(query).all()
    for subject_id, purpose in lapsed:
        with rt.transaction() as conn:
            # Looked at again under the subject's lock: a consent given again meanwhile stays.
            lock_subject_for_update(conn, subject_id)
            live = conn.execute(select(exists().where(live_consent_clause(subject_id, purpose, rt.clock())))).scalar()
            if not live:
                scheduled += len(schedule(rt, conn, subject_id, purpose, CONSENT_LAPSED, now))
    return scheduled


def _claim(rt: Runtime) -> timedelta:
    """How long an attempt may take: another worker leaves the purge alone meanwhile."""
    return timedelta(seconds=rt.settings.PLUGIN_TIMEOUT * 2 + 10)


def _attempt(rt: Runtime, row: Any) -> bool:
    plugin = rt.plugins.plugins.get(row.plugin)
    pseudonym = rt.plugins.pseudonym(row.plugin, row.subject_id) if plugin else ""
    outcome: bool
    error: str | None
    items: int | None
    if plugin is None:
        outcome, error, items = False, "plugin_not_loaded", None
    elif row.cause == SUBJECT_ERASED:
        result = call_plugin(rt, plugin, "dossier_subject_erased", None, pseudonym=pseudonym)
        outcome, error, items = _confirmed(result)
    else:
        result = call_plugin(rt, plugin, "dossier_consent_withdrawn", row.purpose, pseudonym=pseudonym, purpose=row.purpose)
        outcome, error, items = _confirmed(result)
    now = rt.clock()
    pending = and_(plugin_purges.c.id == row.id, plugin_purges.c.confirmed_at.is_(None))
    with rt.transaction() as conn:
        if outcome:
            confirmed = conn.execute(update(plugin_purges).where(pending).values(
                confirmed_at=now, items=items, attempts=plugin_purges.c.attempts + 1, last_error=None))
            if confirmed.rowcount:  # once, even if two attempts raced
                # NOTE: the confirmation is the audit entry; a failure is shown to admins instead.
                audit_log.append(conn, plugin_entry(row.plugin, row.subject_id, PURGE_ACTION,
                                                    (row.purpose,) if row.purpose else (), (), True, f"{row.cause}:{items}", now))
        else:
            delay = min(timedelta(seconds=rt.settings.PLUGIN_PURGE_RETRY_SECONDS * 2 ** row.attempts), MAX_DELAY)
            conn.execute(update(plugin_purges).where(pending).values(
                attempts=plugin_purges.c.attempts + 1, next_attempt_at=now + delay, last_error=bounded(error)))
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

"""Releasing a view of one subject to one plugin, under one purpose (DESIGN.md section 8).

One transaction loads the facts (the subject's key, whether it is erased, whether the purpose's
consent is live), asks the decision point (``core.policy.decide_release``), appends the audit
entry, notes the holding (what must be purged if the purpose goes) and loads the sealed fields of
the allowed categories only. They are opened after the commit and shaped into a ``SubjectView``
that names the subject by the plugin's pseudonym.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select
from sqlalchemy.engine import Connection

from audit import log as audit_log
from audit.entries import Entry, request_id_var
from consent.store import live_consent_clause
from core.crypto.sealing import WrappedKey
from core.db import upsert
from core.dossier import store
from core.dossier.fields import ACTIVITY_CATEGORY, IDENTITY_FIELDS, PROFILE_FIELDS, RecordKind
from core.models import iso_utc, subjects
from core.plugins.host import PluginHost
from core.plugins.models import plugin_holdings
from core.plugins.registry import Plugin
from core.policy import ReleaseFacts, decide_release
from plugins.api import SubjectView

if TYPE_CHECKING:
    from core.runtime import Runtime

PLUGIN_ROLE = "plugin"


def client_id(plugin: str) -> str:
    """How audit entries name a plugin (its role is ``plugin``)."""
    return f"plugin:{plugin}"


def release_view(rt: Runtime, host: PluginHost, plugin: Plugin, subject_id: str, purpose: str, now: datetime,
                 declared: frozenset[str] | None = None) -> SubjectView | None:
    """The view ``plugin`` may have of ``subject_id`` under ``purpose`` now, or None when refused.

    ``declared`` narrows the manifest's categories for this release (what an event never carries).

    NOTE: invariants 2 and 3: the decision is recorded in the transaction that loads the data,
    allowed or denied, and a consent purpose releases nothing unless its consent is live now.
    """
    with rt.transaction() as conn:
        row = _load_facts(conn, subject_id, purpose, now)
        if row is None:
            return None
        wrapped_dek, kek_version, erased_at, consent_live = row
        known = host.purposes.get(purpose)
        facts = ReleaseFacts(
            subject_id, purpose, known.legal_basis if known else None, known.categories if known else frozenset(),
            bool(consent_live), erased_at is not None or wrapped_dek is None,
        )
        decision = decide_release(plugin.categories if declared is None else declared & plugin.categories, facts)
        audit_log.append(conn, plugin_entry(plugin.name, subject_id, decision.action.value, decision.purposes,
                                            decision.categories, bool(decision), decision.reason, now))
        if not decision:
            return None
        pseudonym = host.pseudonym(plugin.name, subject_id)
        upsert(conn, plugin_holdings, {"plugin": plugin.name, "subject_id": subject_id, "purpose": purpose,
                                       "pseudonym": pseudonym, "first_released_at": now, "last_released_at": now},
               keys=("plugin", "subject_id", "purpose"), changes=("last_released_at",))
        sealed = store.load_sealed(conn, subject_id, decision.categories)
    opened = store.open_sealed(rt.sealer.cipher(subject_id, WrappedKey(kek_version, wrapped_dek)), sealed)
    return SubjectView(pseudonym, purpose, shape(opened, decision.categories, functools.partial(host.record_ref, plugin.name)))


def _load_facts(conn: Connection, subject_id: str, purpose: str, now: datetime) -> tuple[Any, ...] | None:
    # NOTE: the subject's row is locked for share first, in a statement of its own: a withdrawal
    # (which holds it for update) has then committed or not begun, and the next statement, with a
    # fresh snapshot on PostgreSQL, sees its outcome; its purge cannot miss the holding noted below.
    lock_subject_for_share(conn, subject_id)
    consent_live = exists().where(live_consent_clause(subjects.c.id, purpose, now))
    query = select(subjects.c.wrapped_dek, subjects.c.kek_version, subjects.c.erased_at, consent_live).where(
        subjects.c.id == subject_id
    )
    row = conn.execute(query).first()
    return tuple(row) if row is not None else None


def lock_subject_for_share(conn: Connection, subject_id: str) -> None:
    """Wait for any write that holds the subject's row (PostgreSQL; SQLite's writer lock serialises all)."""
    if conn.dialect.name != "sqlite":
        conn.execute(select(subjects.c.id).where(subjects.c.id == subject_id).with_for_update(read=True))


def lock_subject_for_update(conn: Connection, subject_id: str) -> None:
    """Hold the subject's row as a write does (a grant or a withdrawal), on PostgreSQL."""
    if conn.dialect.name != "sqlite":
        conn.execute(select(subjects.c.id).where(subjects.c.id == subject_id).with_for_update())


def plugin_entry(plugin: str, subject_id: str, action: str, purposes: tuple[str, ...], categories: Iterable[str],
                 allowed: bool, reason: str, now: datetime) -> Entry:
    """An audit entry with the plugin as the actor: references and category names, never a value."""
    return Entry(
        at=now, actor_id=None, actor_role=PLUGIN_ROLE, client_id=client_id(plugin), subject_ref=subject_id,
        action=action, purposes=purposes, categories=tuple(sorted(categories)), decision="allow" if allowed else "deny",
        reason=reason, request_id=request_id_var.get(),
    )


# -- the shape of a view -----------------------------------------------------------------------


def _fields_by_category(fields: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for field, category in fields.items():
        grouped[str(category)].append(field)
    return {category: tuple(names) for category, names in grouped.items()}


_IDENTITY = _fields_by_category(IDENTITY_FIELDS)
_PROFILE = _fields_by_category(PROFILE_FIELDS)
_RECORD_FIELDS = {RecordKind.ACTIVITY: ("kind", "occurred_at", "description"), RecordKind.CONTACT: ("channel", "occurred_at", "summary")}


def shape(opened: Iterable[store.OpenedRecord], categories: frozenset[str], ref: Callable[[str], str]) -> dict[str, Any]:
    """category -> value, as docs/plugins.md lists them: one field's value, or a mapping of a
    category's fields, or a tuple of records (activities, contacts) each with the plugin's ``ref``."""
    records = list(opened)
    identity = next((r.values for r in records if r.kind == RecordKind.IDENTITY), {})
    profile = {field: stored["value"] for r in records if r.kind == RecordKind.PROFILE for field, stored in r.values.items()}
    data: dict[str, Any] = {}
    for category in sorted(categories):
        if category in _IDENTITY:
            data[category] = _value(identity, _IDENTITY[category])
        elif category in _PROFILE:
            data[category] = _value(profile, _PROFILE[category])
        elif category == "contact.history":
            data[category] = tuple(_record(r, ref) for r in records if r.kind == RecordKind.CONTACT)
        else:
            data[category] = tuple(
                _record(r, ref) for r in records
                if r.kind == RecordKind.ACTIVITY and ACTIVITY_CATEGORY.get(r.values.get("kind", "")) == category
            )
    return data


def _value(values: dict[str, Any], fields: tuple[str, ...]) -> Any:
    if len(fields) == 1:
        return values.get(fields[0])
    return {field: values.get(field) for field in fields}


def _record(record: store.OpenedRecord, ref: Callable[[str], str]) -> dict[str, Any]:
    fields = _RECORD_FIELDS[RecordKind(record.kind)]
    return {"ref": ref(record.id), **{f: record.values.get(f) for f in fields}, "recorded_at": iso_utc(record.created_at)}

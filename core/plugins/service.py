"""The plugin register, as admins and auditors read it: each plugin's manifest, where it comes
from, its health (failed calls), and the purges it has yet to confirm."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.access import require_role
from core.identity.roles import Actor, Role
from core.models import as_utc
from core.plugins import store
from core.plugins.gateway import PluginGateway
from core.plugins.registry import Plugin
from core.runtime import Runtime

HEALTH_WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Store:
    name: str
    description: str
    per_subject: bool


@dataclass(frozen=True, slots=True)
class Health:
    incidents_last_7_days: int
    last_incident_at: datetime | None
    unconfirmed_purges: int


@dataclass(frozen=True, slots=True)
class PluginEntry:
    """A plugin as the register lists it; one installed but off has its name, state and source only."""

    name: str
    state: str  # enabled, not_enabled or blocked
    source: str
    version: str | None = None
    description: str | None = None
    purposes: list[str] | None = None
    categories: list[str] | None = None
    events: list[str] | None = None
    stores: list[Store] | None = None
    purposes_brought: list[str] | None = None
    health: Health | None = None


@dataclass(frozen=True, slots=True)
class PurgeEntry:
    id: str
    plugin: str
    subject_id: str
    purpose: str | None
    cause: str
    state: str  # pending or confirmed
    requested_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    confirmed_at: datetime | None
    items: int | None = field(default=None)


def register(rt: Runtime, plugins: PluginGateway, actor: Actor) -> list[PluginEntry]:
    require_role(actor, Role.ADMIN, Role.AUDITOR)
    return register_entries(rt, plugins)


def register_entries(rt: Runtime, plugins: PluginGateway) -> list[PluginEntry]:
    """Every plugin: the running ones with their manifest and health, then those installed but off."""
    with rt.engine.connect() as conn:
        incidents = store.incidents_since(conn, rt.clock() - HEALTH_WINDOW)
        pending = store.unconfirmed_by_plugin(conn)
    running = [_entry(plugin, incidents.get(plugin.name), pending.get(plugin.name, 0)) for plugin in plugins.plugins.values()]
    others = [PluginEntry(u.name, u.state, u.source) for u in plugins.unloaded]
    return running + others


def _entry(plugin: Plugin, incidents: tuple[int, datetime] | None, pending: int) -> PluginEntry:
    manifest = plugin.manifest
    return PluginEntry(
        plugin.name, "enabled", plugin.source, manifest.version, manifest.description, list(manifest.purposes),
        sorted(plugin.categories), list(manifest.events), [Store(s.name, s.description, s.per_subject) for s in manifest.stores],
        [p.name for p in plugin.purposes_brought],
        Health(incidents[0] if incidents else 0, as_utc(incidents[1]) if incidents else None, pending),
    )


def purges(rt: Runtime, actor: Actor, pending_only: bool) -> list[PurgeEntry]:
    require_role(actor, Role.ADMIN, Role.AUDITOR)
    return purge_entries(rt, pending_only)


def purge_entries(rt: Runtime, pending_only: bool) -> list[PurgeEntry]:
    """The purges plugins were asked for, the unconfirmed first (what admins must follow up)."""
    with rt.engine.connect() as conn:
        rows = store.purges(conn, pending_only)
    return [
        PurgeEntry(r.id, r.plugin, r.subject_id, r.purpose, r.cause, "confirmed" if r.confirmed_at else "pending",
                   as_utc(r.requested_at), r.attempts, None if r.confirmed_at else as_utc(r.next_attempt_at), r.last_error,
                   as_utc(r.confirmed_at) if r.confirmed_at else None, r.items)
        for r in rows
    ]

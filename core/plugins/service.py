"""The plugin register, as admins and auditors read it: each plugin's manifest, where it comes
from, its health (failed calls), and the purges it has yet to confirm."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core.access import require_role
from core.identity.roles import Actor, Role
from core.models import iso_utc
from core.plugins import store
from core.plugins.gateway import PluginGateway
from core.plugins.registry import Plugin
from core.runtime import Runtime

HEALTH_WINDOW = timedelta(days=7)


def register(rt: Runtime, plugins: PluginGateway, actor: Actor) -> list[dict[str, Any]]:
    require_role(actor, Role.ADMIN, Role.AUDITOR)
    return register_entries(rt, plugins)


def register_entries(rt: Runtime, plugins: PluginGateway) -> list[dict[str, Any]]:
    """Every plugin: the running ones with their manifest and health, then those installed but off."""
    with rt.engine.connect() as conn:
        incidents = store.incidents_since(conn, rt.clock() - HEALTH_WINDOW)
        pending = store.unconfirmed_by_plugin(conn)
    running = [_entry(plugin, incidents.get(plugin.name), pending.get(plugin.name, 0)) for plugin in plugins.plugins.values()]
    others = [{"name": u.name, "state": u.state, "source": u.source} for u in plugins.unloaded]
    return running + others


def _entry(plugin: Plugin, incidents: tuple[int, Any] | None, pending: int) -> dict[str, Any]:
    manifest = plugin.manifest
    return {
        "name": plugin.name, "state": "enabled", "source": plugin.source, "version": manifest.version,
        "description": manifest.description, "purposes": list(manifest.purposes),
        "categories": sorted(plugin.categories), "events": list(manifest.events),
        "stores": [{"name": s.name, "description": s.description, "per_subject": s.per_subject} for s in manifest.stores],
        "purposes_brought": [p.name for p in plugin.purposes_brought],
        "health": {
            "incidents_last_7_days": incidents[0] if incidents else 0,
            "last_incident_at": iso_utc(incidents[1]) if incidents else None,
            "unconfirmed_purges": pending,
        },
    }


def purges(rt: Runtime, actor: Actor, pending_only: bool) -> list[dict[str, Any]]:
    require_role(actor, Role.ADMIN, Role.AUDITOR)
    return purge_entries(rt, pending_only)


def purge_entries(rt: Runtime, pending_only: bool) -> list[dict[str, Any]]:
    """The purges plugins were asked for, the unconfirmed first (what admins must follow up)."""
    with rt.engine.connect() as conn:
        rows = store.purges(conn, pending_only)
    return [
        {
            "id": r.id, "plugin": r.plugin, "subject_id": r.subject_id, "purpose": r.purpose, "cause": r.cause,
            "state": "confirmed" if r.confirmed_at else "pending", "requested_at": iso_utc(r.requested_at),
            "attempts": r.attempts, "next_attempt_at": None if r.confirmed_at else iso_utc(r.next_attempt_at),
            "last_error": r.last_error, "confirmed_at": iso_utc(r.confirmed_at) if r.confirmed_at else None,
            "items": r.items,
        }
        for r in rows
    ]

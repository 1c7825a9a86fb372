"""Starting the plugins, once per app: load and check them, and add the purposes they bring.

``start_plugins`` is what ``create_app`` calls (before the gateway is composed). The plugins' own
code (their registration hooks) runs here, outside any transaction; a refused plugin stops
start-up with one line naming it (``core.plugins.registry.PluginRefused``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from consent.catalogue import DEFAULT_PURPOSES, PurposeDefinition
from consent.models import purposes as purposes_table
from consent.store import CatalogueEntry, catalogue, load_catalogue
from core.access import PurposeFacts
from core.crypto.interfaces import KeyProviderError
from core.plugins import registry
from core.plugins.host import PluginHost
from core.plugins.registry import Plugin, PluginRefused
from core.runtime import Runtime


def start_plugins(rt: Runtime, given: Sequence[Any] = ()) -> PluginHost:
    """Load and check the plugins, and add the purposes they bring to the catalogue."""
    loaded = registry.load(rt.settings, given)
    if not loaded.manifests:
        registry.check_configured(rt.settings, {}, loaded.unloaded)
        return PluginHost(loaded.manager, {}, loaded.unloaded, b"", rt.settings.PLUGIN_TIMEOUT)
    try:
        key = rt.keys.pseudonym_key()
    except KeyProviderError as exc:
        raise PluginRefused(str(exc)) from None
    with rt.engine.connect() as conn:
        entries = {entry.name: entry for entry in catalogue(conn)}
        sources = dict(conn.execute(select(purposes_table.c.name, purposes_table.c.source)).all())
    known = {definition.name: frozenset(definition.categories) for definition in DEFAULT_PURPOSES}
    known |= {name: frozenset(entry.categories) for name, entry in entries.items()}
    plugins = {name: registry.check(loaded.manager, manifest, source, known, rt.settings.PLUGINS.get(name))
               for name, (manifest, source) in loaded.manifests.items()}
    registry.check_configured(rt.settings, plugins, loaded.unloaded)
    for plugin in plugins.values():
        for purpose in plugin.purposes_brought:
            _check_unchanged(plugin, purpose, entries.get(purpose.name), sources.get(purpose.name))
    with rt.transaction() as conn:
        # The core's purposes first: what the plugins serve must be in the catalogue that decides
        # (`dossier init` loads them too; loading is idempotent).
        load_catalogue(conn)
        for plugin in plugins.values():
            if plugin.purposes_brought:
                load_catalogue(conn, plugin.purposes_brought, source=plugin.name)
        # What decisions rest on comes from the catalogue as stored, never from a declaration.
        facts = {e.name: PurposeFacts(e.legal_basis, frozenset(e.categories)) for e in catalogue(conn)}
    return PluginHost(loaded.manager, plugins, loaded.unloaded, key, rt.settings.PLUGIN_TIMEOUT, facts)


def _check_unchanged(plugin: Plugin, purpose: PurposeDefinition, stored: CatalogueEntry | None, source: str | None) -> None:
    """A purpose's meaning never changes under its name: seekers consented to what it said.

    NOTE: a new version of a plugin may bring new notice versions, but not another legal basis or
    other categories for a purpose already in the catalogue; that is a new purpose, to consent to anew.
    """
    if stored is None:
        return
    if source != plugin.name:
        raise PluginRefused(f"plugin {plugin.name}: purpose {purpose.name} already comes from {source}")
    if stored.legal_basis != purpose.legal_basis.value or frozenset(stored.categories) != frozenset(purpose.categories):
        raise PluginRefused(f"plugin {plugin.name}: purpose {purpose.name} is in the catalogue with another legal basis or "
                            "other categories; a changed purpose needs a new name")

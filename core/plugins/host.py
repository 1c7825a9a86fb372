"""The running plugins: what each declared, how to call one alone, and its pseudonym key.

``start`` is what ``create_app`` calls: it loads and checks the plugins (core.plugins.registry),
adds the purposes they bring to the catalogue, and returns the host the gateway works with.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pluggy
from sqlalchemy import select

from consent.models import purposes as purposes_table
from consent.catalogue import PurposeDefinition
from consent.store import CatalogueEntry, catalogue, load_catalogue
from core.background import ElectedWorker
from core.crypto.interfaces import KeyProviderError
from core.plugins import hookspecs, pseudonyms, registry
from core.plugins.calls import CallResult, IsolatedCalls
from core.plugins.registry import Plugin, PluginRefused, Unloaded
from plugins.api import PROJECT

if TYPE_CHECKING:
    from core.runtime import Runtime


@dataclass(frozen=True)
class PurposeFacts:
    legal_basis: str
    categories: frozenset[str]


class PluginHost:
    """Every registered plugin, and the one way to call one of them."""

    def __init__(self, manager: pluggy.PluginManager, plugins: dict[str, Plugin], unloaded: Sequence[Unloaded],
                 pseudonym_key: bytes, timeout: float, purposes: dict[str, PurposeFacts] | None = None,
                 runtime: Runtime | None = None) -> None:
        self.manager = manager
        self.plugins = plugins
        # The catalogue's purposes (legal basis, categories): neither ever changes for a name
        # (start refuses a plugin that would change them).
        self.purposes = purposes or {}
        self.unloaded = tuple(unloaded)
        self._pseudonym_key = pseudonym_key
        self.calls = IsolatedCalls(timeout)
        # The server's background worker, when one runs in this process (core.plugins.worker).
        self.worker: ElectedWorker | None = None
        # The runtime the host delivers events with (deliver_soon); None for a host with no plugins.
        self._runtime = runtime

    @classmethod
    def empty(cls) -> PluginHost:
        """A host without plugins (before create_app has loaded them)."""
        manager = pluggy.PluginManager(PROJECT)
        manager.add_hookspecs(hookspecs)
        return cls(manager, {}, (), b"", 1.0)

    def __bool__(self) -> bool:
        return bool(self.plugins)

    def legal_basis(self, purpose: str) -> str:
        facts = self.purposes.get(purpose)
        return facts.legal_basis if facts else ""

    def deliver_soon(self) -> None:
        """After a commit that queued events: deliver them now (inline) or wake the worker."""
        if self._runtime is None:
            return
        if self._runtime.settings.PLUGIN_DISPATCH_INTERVAL == 0:
            from core.plugins.outbox import dispatch_pending

            dispatch_pending(self._runtime)
        elif self.worker is not None:
            self.worker.wake()

    def subscribers(self, event: str) -> list[Plugin]:
        """The plugins whose manifest lists ``event``, in registration order."""
        return [p for p in self.plugins.values() if event in p.manifest.events]

    def implementing(self, hook: str) -> list[Plugin]:
        return [p for p in self.plugins.values() if hook in p.hooks]

    def call(self, plugin: Plugin, hook: str, collect: int | None = None, **kwargs: Any) -> CallResult:
        """Call ``plugin``'s implementation of ``hook`` alone, isolated; the value is its answer.

        ``collect`` turns an iterable answer into a list of at most that many items, inside the
        isolated call: iterating a plugin's generator runs its code, under the same time limit.
        """
        caller = self._caller(hook, plugin.name)

        def answer(**arguments: Any) -> Any:
            # pluggy returns the list of answers of the implementations called: here, one.
            answers = caller(**arguments)
            value = answers[0] if answers else None
            return list(itertools.islice(iter(value), collect)) if collect is not None and value is not None else value

        return self.calls.call(plugin.name, hook, answer, **kwargs)

    def pseudonym(self, plugin: str, subject_id: str) -> str:
        return pseudonyms.subject_pseudonym(self._key(plugin), subject_id)

    def record_ref(self, plugin: str, record_id: str) -> str:
        return pseudonyms.record_ref(self._key(plugin), record_id)

    @functools.cache  # noqa: B019 - one host per app; a plugin's key never changes
    def _key(self, plugin: str) -> bytes:
        return pseudonyms.plugin_key(self._pseudonym_key, plugin)

    @functools.cache  # noqa: B019
    def _caller(self, hook: str, name: str) -> Any:
        others = [p for n, p in self.manager.list_name_plugin() if n != name]
        return self.manager.subset_hook_caller(hook, remove_plugins=others)


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


def start(rt: Runtime, given: Sequence[Any] = ()) -> PluginHost:
    """Load and check the plugins, and add the purposes they bring to the catalogue."""
    loaded = registry.load(rt.settings, given)
    if not loaded.manifests:
        return PluginHost(loaded.manager, {}, loaded.unloaded, b"", rt.settings.PLUGIN_TIMEOUT)
    try:
        key = rt.keys.pseudonym_key()
    except KeyProviderError as exc:
        raise PluginRefused(str(exc)) from None
    with rt.engine.connect() as conn:
        entries = {entry.name: entry for entry in catalogue(conn)}
        sources = dict(conn.execute(select(purposes_table.c.name, purposes_table.c.source)).all())
    # The plugins' own code (their registration hooks) runs here, outside any transaction.
    known = {name: frozenset(entry.categories) for name, entry in entries.items()}
    plugins = {name: registry.check(loaded.manager, manifest, source, known) for name, (manifest, source) in loaded.manifests.items()}
    for plugin in plugins.values():
        for purpose in plugin.purposes_brought:
            _check_unchanged(plugin, purpose, entries.get(purpose.name), sources.get(purpose.name))
    with rt.transaction() as conn:
        for plugin in plugins.values():
            if plugin.purposes_brought:
                load_catalogue(conn, plugin.purposes_brought, source=plugin.name)
        # What decisions rest on comes from the catalogue as stored, never from a declaration.
        purposes = {e.name: PurposeFacts(e.legal_basis, frozenset(e.categories)) for e in catalogue(conn)}
    return PluginHost(loaded.manager, plugins, loaded.unloaded, key, rt.settings.PLUGIN_TIMEOUT, purposes, rt)


"""The running plugins: what each declared, the purposes decisions rest on, their pseudonyms, and
calling one plugin's hook alone.

The host knows no runtime: it is built at start-up (``core.plugins.startup``) and used by the
gateway (``core.plugins.gateway``), the one caller of ``call``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pluggy

from core.access import PurposeFacts
from core.plugins import pseudonyms
from core.plugins.calls import CallResult, IsolatedCalls
from core.plugins.registry import Plugin, Unloaded
from plugins.api import Ranking

# A hook specification, by its function in core.plugins.hookspecs.
Hook = Callable[..., Any]


class PluginHost:
    """Every registered plugin, and the one way to call one of them."""

    def __init__(self, manager: pluggy.PluginManager, plugins: dict[str, Plugin], unloaded: Sequence[Unloaded],
                 pseudonym_key: bytes, timeout: float, purposes: Mapping[str, PurposeFacts] | None = None) -> None:
        self.manager = manager
        self.plugins = plugins
        # The catalogue's purposes (legal basis, categories): neither ever changes for a name
        # (start-up refuses a plugin that would change them).
        self.purposes: Mapping[str, PurposeFacts] = purposes or {}
        self.unloaded = tuple(unloaded)
        self._pseudonym_key = pseudonym_key
        self.calls = IsolatedCalls(timeout)

    def __bool__(self) -> bool:
        return bool(self.plugins)

    def legal_basis(self, purpose: str) -> str:
        facts = self.purposes.get(purpose)
        return facts.legal_basis if facts else ""

    def subscribers(self, event: Hook) -> list[Plugin]:
        """The plugins whose manifest lists the event hook ``event``, in registration order."""
        return [p for p in self.plugins.values() if event.__name__ in p.manifest.events]

    def implementing(self, hook: Hook) -> list[Plugin]:
        return [p for p in self.plugins.values() if hook.__name__ in p.hooks]

    def call(self, plugin: Plugin, hook: Hook, collect: int | None = None, finished: Callable[[], object] | None = None,
             timeout: float | None = None, **kwargs: Any) -> CallResult:
        """Call ``plugin``'s implementation of ``hook`` alone, isolated; the value is its answer.

        ``collect`` turns an iterable answer into a list of at most that many items (or a
        ``Ranking`` into one of at most that many candidates), inside the isolated call: iterating
        a plugin's generator runs its code, under the same time limit.
        ``finished`` runs once the plugin's code has returned (``IsolatedCalls.call``).
        """
        caller = self._caller(hook.__name__, plugin.name)

        def answer(**arguments: Any) -> Any:
            # pluggy returns the list of answers of the implementations called: here, one.
            answers = caller(**arguments)
            value = answers[0] if answers else None
            if collect is None or value is None:
                return value
            if type(value) is Ranking:
                return Ranking(tuple(itertools.islice(iter(value.candidates), collect)), value.total)
            return list(itertools.islice(iter(value), collect))

        return self.calls.call(plugin.name, hook.__name__, answer, finished=finished, timeout=timeout, **kwargs)

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

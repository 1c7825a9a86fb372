"""The context of one hook call (plugins.api.PluginContext), and the call itself.

``call_plugin`` is the only way the gateway calls a plugin: it builds the context, calls the
plugin alone and isolated (core.plugins.calls), then ends the context and revokes the views it
passed, so that a reference kept after the call reaches nothing. A failed call is an incident.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError

from config.logging import exception_summary

from core.plugins.calls import CallResult
from core.plugins.models import ERROR_LENGTH, NAME_LENGTH, plugin_incidents
from core.plugins.registry import Plugin
from core.plugins.storage import CallState, PluginSharedStore, PluginSubjectStore
from plugins.api import SharedStore, SubjectStore, SubjectView

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger("dossier.plugins")


class CallContext:
    """What one call of one plugin may use: its stores, its logger and the clock."""

    def __init__(self, rt: Runtime, plugin: Plugin, purpose: str | None) -> None:
        self._state = CallState()
        self._plugin = plugin.name
        self._purpose = purpose
        self._clock = rt.clock
        basis = rt.plugins.legal_basis(purpose) if purpose else ""
        self._store = PluginSubjectStore(rt, plugin, purpose, basis, self._state)
        self._shared = PluginSharedStore(rt, plugin, self._state)
        self._log = logging.getLogger(f"dossier.plugin.{plugin.name}")

    @property
    def plugin(self) -> str:
        return self._plugin

    @property
    def purpose(self) -> str | None:
        return self._purpose

    @property
    def store(self) -> SubjectStore:
        return self._store

    @property
    def shared(self) -> SharedStore:
        return self._shared

    @property
    def log(self) -> logging.Logger:
        return self._log

    def now(self) -> datetime:
        return self._clock()

    def end(self) -> None:
        """The call is over: nothing reached through this context works, nor holds the service."""
        self._state.open = False
        self._store.close()
        self._shared.close()

    def __repr__(self) -> str:
        return f"CallContext(plugin={self._plugin!r}, purpose={self._purpose!r})"


def call_plugin(rt: Runtime, plugin: Plugin, hook: str, under: str | None, collect: int | None = None,
                **kwargs: Any) -> CallResult:
    """Call ``plugin``'s ``hook`` under the purpose ``under`` with a fresh context; afterwards
    nothing it was given works. ``collect``: see ``PluginHost.call``."""
    context = CallContext(rt, plugin, under)
    try:
        result = rt.plugins.call(plugin, hook, collect, context=context, **kwargs)
    finally:
        context.end()
        for value in kwargs.values():
            if isinstance(value, SubjectView):
                value._revoke()
    if not result.ok:
        record_incident(rt, plugin.name, hook, result.outcome.value, result.error)
    return result


def record_incident(rt: Runtime, plugin: str, hook: str, kind: str, error: str | None) -> None:
    """Keep a failed call for the admins (GET /api/v1/plugins): the kind and the error's class.

    The names are cut to their columns (a plugin chooses its exceptions' names), and a failure to
    keep the incident is logged, never raised: the caller has already done its work.
    """
    try:
        with rt.transaction() as conn:
            conn.execute(insert(plugin_incidents).values(plugin=plugin[:NAME_LENGTH], hook=hook[:NAME_LENGTH], kind=kind[:20],
                                                         error=bounded(error), at=rt.clock()))
    except SQLAlchemyError as exc:
        log.error("plugin incident not recorded", extra={"plugin": plugin, "error": exception_summary(exc)})


def bounded(error: str | None) -> str | None:
    """An error's kind as the tables keep it (200 characters)."""
    return error[:ERROR_LENGTH] if error else error

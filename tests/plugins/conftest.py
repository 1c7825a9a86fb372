"""Test plugins, and an app that runs them.

``make_plugin`` builds a plugin object implementing exactly the hooks it is asked for, recording
every call with a copy of what it was given; the ``app`` here registers the ``plugins`` fixture's
objects (a test module overrides that fixture) and delivers events inline.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from consent.store import load_catalogue
from core.app import create_app
from core.db import make_engine
from core.plugins import registry
from core.runtime import runtime
from core.taxonomy.service import load_default
from plugins.api import (
    Manifest,
    Notice,
    PluginSetting,
    Purged,
    PurposeDeclaration,
    StoredData,
    SubjectView,
    hookimpl,
)

# A consent purpose the test plugin brings, covering a little of every part of the dossier.
INSIGHT = "recorder.insight"
INSIGHT_CATEGORIES = ("profile.skills", "profile.occupations", "activity.applications", "activity.trainings", "contact.history")


def insight_purpose(name: str = "recorder") -> PurposeDeclaration:
    return PurposeDeclaration(
        f"{name}.insight", "consent", INSIGHT_CATEGORIES, ("test plugin",), 30,
        (Notice("Un plugin de test lit une partie de votre dossier.", "A test plugin reads part of your dossier."),),
    )


@dataclass
class Call:
    hook: str
    purpose: str | None
    pseudonym: str | None = None
    categories: frozenset[str] = frozenset()
    data: dict[str, Any] = field(default_factory=dict)
    arguments: dict[str, Any] = field(default_factory=dict)


def _snapshot(view: SubjectView) -> dict[str, Any]:
    return {category: copy.deepcopy(_thaw(view[category])) for category in view}


def _thaw(value: Any) -> Any:
    if hasattr(value, "items"):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def make_plugin(name: str = "recorder", *, purposes: Sequence[str] = (INSIGHT,), categories: Sequence[str] = INSIGHT_CATEGORIES,
                events: Sequence[str] = (), stores: Sequence[StoredData] = (), brings: Sequence[PurposeDeclaration] | None = None,
                purge: bool = True, extra: dict[str, Callable[..., Any]] | None = None, version: str = "1.0",
                settings: Sequence[PluginSetting] = ()) -> Any:
    """A plugin object with the hooks asked for; ``plugin.calls`` records what each call received."""
    calls: list[Call] = []
    brought = [insight_purpose(name)] if brings is None and any(p.startswith(f"{name}.") for p in purposes) else list(brings or ())
    namespace: dict[str, Any] = {"calls": calls, "__name__": name}

    def manifest(self: Any) -> Manifest:
        return Manifest(name, version, tuple(purposes), tuple(categories), tuple(events), tuple(stores), f"{name} (tests)",
                        tuple(settings))

    namespace["dossier_manifest"] = hookimpl(manifest)
    if brought:
        namespace["dossier_purposes"] = hookimpl(lambda self: brought)
    for event in events:
        namespace[event] = hookimpl(_recorder(event, calls))
    if purge:
        def withdrawn(self: Any, pseudonym: str, purpose: str, context: Any) -> Purged:
            calls.append(Call("dossier_consent_withdrawn", context.purpose, pseudonym, arguments={"purpose": purpose}))
            return Purged(items=1)

        def erased(self: Any, pseudonym: str, context: Any) -> Purged:
            calls.append(Call("dossier_subject_erased", context.purpose, pseudonym))
            return Purged(items=2)

        namespace["dossier_consent_withdrawn"] = hookimpl(withdrawn)
        namespace["dossier_subject_erased"] = hookimpl(erased)
    for hook, function in (extra or {}).items():
        namespace[hook] = hookimpl(function)
    return type(f"Plugin_{name}", (), namespace)()


def _recorder(event: str, calls: list[Call]) -> Callable[..., None]:
    if event == "dossier_employer_search_performed":
        def on_search(self: Any, search: Any, context: Any) -> None:
            calls.append(Call(event, context.purpose, arguments={"search": search}))

        return on_search
    if event == "dossier_contact_request_decided":
        def on_decision(self: Any, view: SubjectView, decision: Any, context: Any) -> None:
            calls.append(Call(event, context.purpose, view.pseudonym, view.categories, _snapshot(view), {"decision": decision}))

        return on_decision

    def on_event(self: Any, view: SubjectView, event: Any, context: Any) -> None:
        calls.append(Call(event_name, context.purpose, view.pseudonym, view.categories, _snapshot(view), {"event": event}))

    event_name = event
    return on_event


@pytest.fixture
def plugins() -> list[Any]:
    """The plugin objects the app registers; a test module overrides this."""
    return []


@pytest.fixture
def plugin_settings() -> dict[str, Any]:
    return {}


@pytest.fixture
def start_app(instance: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Flask]]:
    """``start_app(*plugins, **settings)``: an app with those plugins, as `dossier init` leaves the
    database (the catalogue and taxonomy loaded), delivering events inline. Without the built-in
    plugins: each test of the framework sees the plugins it gives alone (the built-ins have tests of
    their own, tests/matching)."""
    monkeypatch.setattr(registry, "BUILTIN_PLUGINS", ())
    engine = make_engine(database_url)
    with engine.begin() as conn:
        load_default(conn)
        load_catalogue(conn)
    engine.dispose()
    started: list[Flask] = []

    def start(*plugins: Any, **settings: Any) -> Flask:
        app = create_app({
            "INSTANCE_PATH": str(instance), "DATABASE_URL": database_url, "TESTING": True, "KEYRING_RELOAD_INTERVAL": 0.0,
            "PLUGIN_DISPATCH_INTERVAL": 0, "PLUGIN_TIMEOUT": 3.0, **settings,
        }, plugins=list(plugins))
        started.append(app)
        return app

    yield start
    for app in started:
        runtime(app).engine.dispose()


@pytest.fixture
def app(start_app: Callable[..., Flask], plugins: list[Any], plugin_settings: dict[str, Any]) -> Flask:
    """The app with ``plugins``."""
    return start_app(*plugins, **plugin_settings)

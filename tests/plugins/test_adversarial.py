"""Adversarial plugins: each tries to reach more than it is given, or to break what calls it.

The issue asks that "an adversarial test plugin that tries to reach more (asks for undeclared
categories, keeps a reference to a view after the call, raises, hangs) gets nothing more and breaks
nothing". Each class below registers its own plugins (the ``plugins`` fixture) and makes users act
through the HTTP API (tests/plugins/helpers.py); plugins record what they tried from inside their
hooks, and the tests assert what came of it.
"""

from __future__ import annotations

import functools
import gc
import logging
import math
import sys
import textwrap
import threading
import time
import types
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection

from config.logging import JsonFormatter
from core.dossier.records import PROFILE_FIELDS
from core.identity import accounts
from core.identity.roles import Role
from core.models import records
from core.plugins import gateway as gateway_module
from core.plugins.models import plugin_incidents, plugin_shared_data, plugin_subject_data
from core.plugins.outbox import Event, emit, employer_search_payload
from core.plugins.context import MAX_VALUE_BYTES
from core.crypto.keyring import LocalKeyring
from core.crypto.sealing import Sealer
from core.identity.signing import SigningKeys
from core.identity.tokens import TokenService
from core.plugins.gateway import PluginGateway
from core.plugins.host import PluginHost
from core.runtime import Runtime
from core.unit_of_work import UnitOfWork
from plugins.api import CandidateQuery, NotHeld, NotReleased, Purged, RankedCandidate, StoredData
from tests.acceptance.test_at_rest import raw_database_bytes
from tests.plugins.conftest import make_plugin
from tests.plugins.helpers import OCCUPATIONS, SKILLS, audit_entries, base, fill_dossier, grant, trigger

MARKER = "QxAdversary7731"
TIMEOUT = 0.3
CHANGED = "dossier_profile_changed"
PUBLISHED = "dossier_profile_published"
ACTIVITY = "dossier_activity_recorded"
SEARCH = "dossier_employer_search_performed"
RANKING = "dossier_candidate_ranking"
MATCHING = "profile.matching"
RELEASE = "plugin:view:release"
PURGE = "plugin:data:purge"


@pytest.fixture
def plugin_settings() -> dict[str, Any]:
    return {"PLUGIN_TIMEOUT": TIMEOUT}


# -- helpers -----------------------------------------------------------------------------------


def plugin_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("plugin:")]


def join_plugin_threads(timeout: float = 5.0) -> list[str]:
    """Wait for every plugin call's thread; return the names of those still running."""
    deadline = time.monotonic() + timeout
    for thread in plugin_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in plugin_threads() if t.is_alive()]


@pytest.fixture(autouse=True)
def no_thread_outlives_the_test() -> Iterator[None]:
    """Set up first, so torn down last: after every gate below has been opened."""
    yield
    assert join_plugin_threads() == []


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """What a hanging plugin waits for; always opened at the end of the test."""
    event = threading.Event()
    yield event
    event.set()


def attempt(action: Callable[[], Any]) -> str:
    """What came of ``action``: the class of what it raised, or "ok"."""
    try:
        action()
    except BaseException as exc:
        return type(exc).__name__
    return "ok"


def incidents(rt: Runtime) -> list[tuple[str, str, str, str | None]]:
    with rt.engine.connect() as conn:
        rows = conn.execute(select(plugin_incidents.c.plugin, plugin_incidents.c.hook, plugin_incidents.c.kind,
                                   plugin_incidents.c.error).order_by(plugin_incidents.c.id)).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def called(plugin: Any, hook: str) -> list[Any]:
    return [c for c in plugin.calls if c.hook == hook]


_LEAVES = (str, bytes, int, float, complex, bool, type(None), datetime, date)


def _children(obj: Any) -> list[Any]:
    """What an object refers to, the way plugin code can reach it (attributes, items, closures)."""
    if isinstance(obj, _LEAVES) or isinstance(obj, (type, types.ModuleType, types.BuiltinFunctionType)):
        return []
    if isinstance(obj, (dict, MappingProxyType)):
        return [*obj.keys(), *obj.values()]
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)
    if isinstance(obj, types.MethodType):
        return [obj.__self__, obj.__func__]
    if isinstance(obj, types.FunctionType):
        cells = []
        for cell in obj.__closure__ or ():
            try:
                cells.append(cell.cell_contents)
            except ValueError:
                pass
        return cells
    if isinstance(obj, functools.partial):
        return [obj.func, *obj.args, *obj.keywords.values()]
    children = list(vars(obj).values()) if hasattr(obj, "__dict__") else []
    for klass in type(obj).__mro__:
        slots = getattr(klass, "__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            try:
                children.append(getattr(obj, slot))
            except AttributeError:
                pass
    return children


# What a plugin must not reach from what it is handed: the service's infrastructure.
SERVICE = (Runtime, Engine, Connection, UnitOfWork, Sealer, LocalKeyring, SigningKeys, TokenService, PluginGateway, PluginHost)


def reachable(root: Any, depth: int = 6) -> Iterator[Any]:
    """Every object reachable from ``root`` through at most ``depth`` references."""
    seen: set[int] = set()
    frontier = [root]
    for _ in range(depth):
        following = []
        for obj in frontier:
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            yield obj
            following.extend(_children(obj))
        frontier = following


def strings_in(*roots: Any) -> set[str]:
    found: set[str] = set()
    for root in roots:
        found |= {o if isinstance(o, str) else str(o) for o in reachable(root, depth=12) if isinstance(o, _LEAVES)}
    return found


def publish(client: Any, person: Any) -> None:
    assert client.patch(base(person) + "/profile", json={"skills": SKILLS}, headers=person.auth).status_code == 200
    assert client.post(base(person) + "/publication", headers=person.auth).status_code == 201


# -- 1. categories it did not declare, or that the purpose does not cover ------------------------


class TestUndeclaredCategories:
    """``snoop`` declares skills and languages, serves its own purpose (which covers skills and
    occupations, not languages) and profile.matching; only its own purpose is granted."""

    @pytest.fixture
    def tried(self) -> dict[str, Any]:
        return {}

    @pytest.fixture
    def plugins(self, tried: dict[str, Any]) -> list[Any]:
        def changed(plugin: Any, view: Any, event: Any, context: Any) -> None:
            for category in ("profile.languages", "profile.occupations", "identity.name", "identity.national_id"):
                tried[category] = attempt(functools.partial(view.__getitem__, category))
            tried["contains"] = [c for c in ("profile.languages", "profile.occupations") if c in view]
            tried["get"] = view.get("profile.occupations")
            tried["listed"] = sorted(view)
            tried["purpose"] = context.purpose

        return [make_plugin("snoop", purposes=("snoop.insight", MATCHING), categories=("profile.skills", "profile.languages"),
                            events=(CHANGED,), extra={CHANGED: changed})]

    def test_reading_an_undeclared_or_uncovered_category_raises_not_released_and_nothing_of_it_is_loaded(
            self, client, rt, seeker, tried, monkeypatch) -> None:
        loaded: list[tuple[frozenset[str], list[str]]] = []
        original = gateway_module.dossier_store.load_sealed
        original_open = gateway_module.dossier_store.open_sealed

        def spy(conn: Connection, subject_id: str, categories: Any) -> Any:
            rows = original(conn, subject_id, categories)
            loaded.append((frozenset(categories), [row[4] for row in rows]))
            return rows

        monkeypatch.setattr(gateway_module, "dossier_store", SimpleNamespace(load_sealed=spy, open_sealed=original_open))
        grant(client, seeker, "snoop.insight")
        profile = {"skills": SKILLS, "occupations": OCCUPATIONS, "languages": [{"code": "nl", "level": "B2"}]}
        assert client.patch(base(seeker) + "/profile", json=profile, headers=seeker.auth).status_code == 200
        assert tried == {"profile.languages": "NotReleased", "profile.occupations": "NotReleased", "identity.name": "NotReleased",
                         "identity.national_id": "NotReleased", "contains": [], "get": None, "listed": ["profile.skills"],
                         "purpose": "snoop.insight"}
        # Only skills were loaded from the database, for the one release that was allowed.
        ((categories, fields),) = loaded
        assert categories == {"profile.skills"} and fields and {PROFILE_FIELDS[f] for f in fields} == {"profile.skills"}
        allowed = audit_entries(rt, action=RELEASE, client="plugin:snoop", decision="allow")
        assert [(e["purposes"], e["categories"]) for e in allowed] == [(["snoop.insight"], ["profile.skills"])]
        (denied,) = audit_entries(rt, action=RELEASE, client="plugin:snoop", decision="deny")
        assert (denied["purposes"], denied["categories"], denied["reason"]) == ([MATCHING], [], "consent_required")

    def test_not_released_is_a_key_error_so_mapping_idioms_stay_closed(self) -> None:
        from plugins.api import SubjectView

        view = SubjectView("p", "snoop.insight", {"profile.skills": ["a"]})
        assert issubclass(NotReleased, KeyError)
        assert view.get("identity.name", "absent") == "absent" and "identity.name" not in view
        assert dict(view) == {"profile.skills": ("a",)}


# -- 2. references kept after the call -----------------------------------------------------------


class TestKeptReferences:
    @pytest.fixture
    def kept(self) -> dict[str, Any]:
        return {}

    @pytest.fixture
    def plugins(self, kept: dict[str, Any]) -> list[Any]:
        def changed(plugin: Any, view: Any, event: Any, context: Any) -> None:
            kept.update(view=view, context=context, items=context.store.items("index"))
            kept["during"] = {"skills": list(view["profile.skills"]),
                              "put": attempt(lambda: context.store.put(view.pseudonym, "index", {"n": 1})),
                              "shared": attempt(lambda: context.shared.put("totals", "n", 1)),
                              "reachable": strings_in(view) & set(SKILLS),
                              "service": [type(o).__name__ for o in [*reachable(context), *reachable(view)] if isinstance(o, SERVICE)]}

        stores = (StoredData("index", "per seeker"), StoredData("totals", "counts", per_subject=False))
        return [make_plugin("keeper", purposes=("keeper.insight",), events=(CHANGED,), stores=stores, extra={CHANGED: changed})]

    @pytest.fixture
    def after_call(self, client, rt, seeker, advisor, kept) -> dict[str, Any]:
        grant(client, seeker, "keeper.insight")
        trigger(CHANGED, client, rt, seeker, advisor)
        assert kept["during"]["put"] == kept["during"]["shared"] == "ok" and kept["during"]["skills"]
        return kept

    def test_a_kept_view_raises_revoked_and_its_data_is_gone_even_from_private_attributes(self, after_call) -> None:
        view = after_call["view"]
        assert after_call["during"]["reachable"]  # the walk does find the data while the call runs
        assert attempt(lambda: view["profile.skills"]) == "Revoked"
        assert attempt(lambda: list(view)) == "Revoked"
        assert attempt(lambda: dict(view)) == "Revoked"
        assert len(view) == 0 and view._data == {}
        assert strings_in(view) & set(SKILLS) == set()

    def test_a_kept_context_cannot_write_read_or_delete_anything(self, after_call, rt) -> None:
        context, pseudonym = after_call["context"], after_call["view"].pseudonym
        assert attempt(lambda: context.store.put(pseudonym, "index", {"n": 2})) == "Revoked"
        assert attempt(lambda: context.store.get(pseudonym, "index")) == "Revoked"
        assert attempt(lambda: context.store.delete(pseudonym)) == "Revoked"
        assert attempt(lambda: list(context.store.items("index"))) == "Revoked"
        assert attempt(lambda: list(after_call["items"])) == "Revoked"  # an iterator taken during the call
        assert attempt(lambda: context.shared.put("totals", "n", 2)) == "Revoked"
        assert attempt(lambda: context.shared.get("totals", "n")) == "Revoked"
        assert attempt(lambda: context.shared.delete("totals", "n")) == "Revoked"
        with rt.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(plugin_subject_data)).scalar_one() == 1
            assert conn.execute(select(plugin_shared_data.c.value)).scalars().all() == ["1"]

    def test_no_attribute_of_what_a_call_is_handed_leads_to_the_service(self, after_call) -> None:
        # Neither while the call runs nor after: the context names its call by a number, and the
        # service's side of it is not an attribute (core.plugins.context). In-process Python is no
        # sandbox (docs/plugins.md): this is the boundary made explicit, not enforced.
        assert after_call["during"]["service"] == []
        assert not any(isinstance(o, SERVICE) for o in reachable(after_call["context"]))


# -- 3. a plugin that raises ---------------------------------------------------------------------


class TestRaises:
    @pytest.fixture(params=[RuntimeError, ValueError, SystemExit, KeyboardInterrupt], ids=lambda e: e.__name__)
    def error(self, request: pytest.FixtureRequest) -> type[BaseException]:
        return request.param  # type: ignore[no-any-return]

    @pytest.fixture
    def plugins(self, error: type[BaseException]) -> list[Any]:
        def changed(plugin: Any, view: Any, event: Any, context: Any) -> None:
            raise error(f"{MARKER} {list(view['profile.skills'])}")

        return [make_plugin("breaker", purposes=("breaker.insight",), events=(CHANGED,), extra={CHANGED: changed}),
                make_plugin(events=(CHANGED,))]

    def test_the_request_succeeds_the_next_plugin_is_called_and_the_message_is_kept_nowhere(
            self, client, rt, plugins, error, make_person, seeker, caplog) -> None:
        grant(client, seeker, "breaker.insight")
        grant(client, seeker, "recorder.insight")
        with caplog.at_level(logging.DEBUG):
            response = client.patch(base(seeker) + "/profile", json={"skills": SKILLS}, headers=seeker.auth)
        assert response.status_code == 200
        assert len(called(plugins[1], CHANGED)) == 1  # registered after the one that raised
        admin = make_person(Role.ADMIN)
        register = client.get("/api/v1/plugins", headers=admin.auth)
        health = {p["name"]: p["health"]["incidents_last_7_days"] for p in register.get_json()}
        assert health == {"breaker": 1, "recorder": 0}
        assert incidents(rt) == [("breaker", CHANGED, "error", error.__name__)]
        logged = "\n".join(JsonFormatter().format(record) for record in caplog.records)
        assert "plugin call failed" in logged and '"breaker"' in logged
        raw = raw_database_bytes(rt)
        assert len(raw) > 10_000
        assert MARKER.encode() not in raw
        assert MARKER not in logged
        assert MARKER not in response.get_data(as_text=True) + register.get_data(as_text=True)


class TestRaisesWithALongName:
    @pytest.fixture
    def plugins(self) -> list[Any]:
        long_error = type("E" * 300, (RuntimeError,), {})

        def changed(plugin: Any, view: Any, event: Any, context: Any) -> None:
            raise long_error("boom")

        return [make_plugin("breaker", purposes=("breaker.insight",), events=(CHANGED,), extra={CHANGED: changed}),
                make_plugin(events=(CHANGED,))]

    def test_an_error_with_a_very_long_class_name_breaks_nothing(self, client, rt, plugins, seeker) -> None:
        grant(client, seeker, "breaker.insight")
        grant(client, seeker, "recorder.insight")
        assert client.patch(base(seeker) + "/profile", json={"skills": SKILLS}, headers=seeker.auth).status_code == 200
        assert len(called(plugins[1], CHANGED)) == 1
        assert [i[2] for i in incidents(rt)] == ["error"]


# -- 4. a plugin that hangs ----------------------------------------------------------------------


class TestHangs:
    @pytest.fixture
    def hanger(self, gate: threading.Event) -> SimpleNamespace:
        state = SimpleNamespace(entered=0, started=threading.Event(), afterwards=[])

        def changed(plugin: Any, view: Any, event: Any, context: Any) -> None:
            state.entered += 1
            state.started.set()
            gate.wait(10)
            state.afterwards.append(attempt(lambda: view["profile.skills"]))

        state.plugin = make_plugin("hanger", purposes=("hanger.insight",), events=(CHANGED,), extra={CHANGED: changed})
        return state

    @pytest.fixture
    def plugins(self, hanger: SimpleNamespace) -> list[Any]:
        return [hanger.plugin, make_plugin(events=(CHANGED,))]

    def test_the_request_returns_others_are_called_a_hung_plugin_is_busy_then_called_again(
            self, client, rt, plugins, hanger, gate, seeker, advisor) -> None:
        grant(client, seeker, "hanger.insight")
        grant(client, seeker, "recorder.insight")
        start = time.monotonic()
        trigger(CHANGED, client, rt, seeker, advisor)
        assert time.monotonic() - start < TIMEOUT + 2.0
        assert hanger.started.is_set() and not gate.is_set()
        released = len(audit_entries(rt, action="plugin:view:release", client="plugin:hanger", decision="allow"))
        trigger(CHANGED, client, rt, seeker, advisor)  # while it still hangs
        assert hanger.entered == 1 and len(called(plugins[1], CHANGED)) == 2
        assert [(i[0], i[2]) for i in incidents(rt)] == [("hanger", "timeout"), ("hanger", "busy")]
        # Nothing was released to it while busy: the audit log says only what was handed over.
        assert len(audit_entries(rt, action="plugin:view:release", client="plugin:hanger", decision="allow")) == released
        gate.set()
        assert join_plugin_threads() == []
        assert hanger.afterwards == ["Revoked"]  # when it woke up, its view had gone
        trigger(CHANGED, client, rt, seeker, advisor)
        assert hanger.entered == 2 and hanger.afterwards == ["Revoked", "ok"]
        assert len(called(plugins[1], CHANGED)) == 3 and len(incidents(rt)) == 2


# -- 5. a purge that is not confirmed ------------------------------------------------------------


class TestUnconfirmedPurge:
    @pytest.fixture(params=["raises", "returns_none", "hangs"])
    def mode(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)

    @pytest.fixture
    def plugins(self, mode: str, gate: threading.Event) -> list[Any]:
        def withdrawn(plugin: Any, pseudonym: str, purpose: str, context: Any) -> Any:
            if mode == "raises":
                raise RuntimeError(MARKER)
            if mode == "hangs":
                gate.wait(10)
                return Purged(items=1)
            return None

        bad = make_plugin("purger", purposes=(MATCHING,), categories=("profile.skills",), events=(PUBLISHED,),
                          extra={"dossier_consent_withdrawn": withdrawn})
        return [bad, make_plugin(purposes=(MATCHING,), categories=("profile.skills",), events=(PUBLISHED,))]

    def test_the_withdrawal_answers_and_the_purge_stays_pending_and_unconfirmed(
            self, client, rt, mode, gate, make_person, seeker) -> None:
        publish(client, seeker)
        start = time.monotonic()
        assert client.delete(base(seeker) + "/publication", headers=seeker.auth).status_code == 200
        assert time.monotonic() - start < TIMEOUT + 2.0
        admin = make_person(Role.ADMIN)
        pending = client.get("/api/v1/plugins/purges?pending=true", headers=admin.auth)
        (entry,) = pending.get_json()
        expected = {"raises": "RuntimeError", "returns_none": "not_confirmed", "hangs": "timeout"}[mode]
        assert (entry["plugin"], entry["state"], entry["purpose"], entry["last_error"]) == ("purger", "pending", MATCHING, expected)
        assert MARKER not in pending.get_data(as_text=True)
        assert audit_entries(rt, action=PURGE, client="plugin:purger") == []
        assert [e["reason"] for e in audit_entries(rt, action=PURGE, client="plugin:recorder")] == ["consent_withdrawn:1"]
        gate.set()


# -- 6. a plugin that mutates what it was given --------------------------------------------------


class TestMutation:
    @pytest.fixture
    def tried(self) -> dict[str, str]:
        return {}

    @pytest.fixture
    def plugins(self, tried: dict[str, str]) -> list[Any]:
        def recorded(plugin: Any, view: Any, event: Any, context: Any) -> None:
            trainings, application = view["activity.trainings"], view["activity.applications"][0]

            def assign_record() -> None:
                application["description"] = "hacked"

            def assign_view() -> None:
                view["activity.trainings"] = ("hacked",)

            def delete_view() -> None:
                del view["activity.trainings"]

            tried["append"] = attempt(lambda: trainings.append("hacked"))
            tried["assign_record"] = attempt(assign_record)
            tried["assign_view"] = attempt(assign_view)
            tried["delete_view"] = attempt(delete_view)
            # Past the read-only surface: its own copies change, nobody else's.
            view._data["activity.trainings"] = ("hacked",)
            gc.get_referents(application)[0]["description"] = "hacked"
            object.__setattr__(event, "record", "hacked")
            changed = (view["activity.trainings"], application["description"]) == (("hacked",), "hacked")
            tried["own_copy"] = "changed" if changed else "unchanged"

        return [make_plugin("mutator", purposes=("mutator.insight",), events=(ACTIVITY,), extra={ACTIVITY: recorded}),
                make_plugin("witness", purposes=("witness.insight",), events=(ACTIVITY,))]

    def test_a_plugin_cannot_change_what_another_plugin_receives(self, client, rt, plugins, tried, seeker, advisor) -> None:
        grant(client, seeker, "mutator.insight")
        grant(client, seeker, "witness.insight")
        fill_dossier(client, seeker, advisor)
        assert tried == {"append": "AttributeError", "assign_record": "TypeError", "assign_view": "TypeError",
                         "delete_view": "TypeError", "own_copy": "changed"}
        calls = called(plugins[1], ACTIVITY)
        assert len(calls) == 2
        for call in calls:
            assert "hacked" not in repr(call.data["activity.trainings"])
            assert call.data["activity.applications"][0]["description"] == "QxPluginMarker application"
            assert call.arguments["event"].record != "hacked"
            assert "hacked" not in strings_in(call.data, call.arguments)
        profile = client.get(base(seeker) + "/dossier", headers=seeker.auth).get_json()["profile"]
        assert profile["skills"] == SKILLS


class TestMutatingAnEmployerSearch:
    @pytest.fixture
    def plugins(self) -> list[Any]:
        def searched(plugin: Any, search: Any, context: Any) -> None:
            attempt(lambda: search.criteria.__setitem__("occupation", "hacked"))
            attempt(lambda: search.criteria.pop("postal_code"))

        return [make_plugin("mutator", purposes=(), categories=(), events=(SEARCH,), purge=False, extra={SEARCH: searched}),
                make_plugin("witness", purposes=(), categories=(), events=(SEARCH,), purge=False)]

    def test_a_plugin_cannot_change_the_search_another_plugin_receives(self, rt, gateway, plugins) -> None:
        criteria = {"occupation": "occ.welder", "postal_code": "4000"}
        with rt.transaction() as conn:
            emit(rt, gateway, conn, Event(SEARCH),
                 payload=employer_search_payload("s-1", "00000000-0000-4000-8000-000000000009", criteria, 3))
        (call,) = plugins[1].calls
        assert dict(call.arguments["search"].criteria) == criteria


# -- 7. a plugin writing where it may not --------------------------------------------------------


class TestStoreWrites:
    @pytest.fixture
    def tried(self) -> dict[str, str]:
        return {}

    @pytest.fixture
    def plugins(self, tried: dict[str, str]) -> list[Any]:
        def changed(plugin: Any, view: Any, event: Any, context: Any) -> None:
            store, mine, theirs, subject = context.store, view.pseudonym, tried.pop("theirs"), tried.pop("subject")
            circular: list[Any] = []
            circular.append(circular)
            tried.update({
                "never_given": attempt(lambda: store.put("0" * 32, "index", {"n": 1})),
                "subject_id": attempt(lambda: store.put(subject, "index", {"n": 1})),
                "other_plugins": attempt(lambda: store.put(theirs, "index", {"n": 1})),
                "undeclared_name": attempt(lambda: store.put(mine, "profiles", {"n": 1})),
                "shared_name": attempt(lambda: store.put(mine, "totals", {"n": 1})),
                "set": attempt(lambda: store.put(mine, "index", {1, 2})),
                "object": attempt(lambda: store.put(mine, "index", object())),
                "nan": attempt(lambda: store.put(mine, "index", math.nan)),
                "circular": attempt(lambda: store.put(mine, "index", circular)),
                "too_large": attempt(lambda: store.put(mine, "index", "x" * MAX_VALUE_BYTES)),
                "shared_too_large": attempt(lambda: context.shared.put("totals", "k", "x" * MAX_VALUE_BYTES)),
                "shared_long_key": attempt(lambda: context.shared.put("totals", "k" * 201, 1)),
                "shared_undeclared": attempt(lambda: context.shared.put("index", "k", 1)),
                "read_theirs": str(store.get(theirs, "index")),
                "own": attempt(lambda: store.put(mine, "index", {"n": 1})),
            })

        stores = (StoredData("index", "per seeker"), StoredData("totals", "counts", per_subject=False))
        return [make_plugin("writer", purposes=("writer.insight",), events=(CHANGED,), stores=stores, extra={CHANGED: changed}),
                make_plugin("other", purposes=("other.insight",), events=(CHANGED,), stores=stores[:1])]

    def test_writes_under_foreign_pseudonyms_undeclared_names_or_bad_values_fail_and_write_nothing(
            self, gateway, client, rt, tried, seeker, advisor) -> None:
        grant(client, seeker, "writer.insight")
        grant(client, seeker, "other.insight")
        tried.update(theirs=gateway.pseudonym("other", seeker.subject_id), subject=seeker.subject_id)
        trigger(CHANGED, client, rt, seeker, advisor)
        assert tried == {
            "never_given": "NotHeld", "subject_id": "NotHeld", "other_plugins": "NotHeld",
            "undeclared_name": "ValueError", "shared_name": "ValueError",
            "set": "TypeError", "object": "TypeError", "nan": "ValueError", "circular": "ValueError",
            "too_large": "ValueError", "shared_too_large": "ValueError", "shared_long_key": "ValueError",
            "shared_undeclared": "ValueError", "read_theirs": "None", "own": "ok",
        }
        assert issubclass(NotHeld, LookupError)
        with rt.engine.connect() as conn:
            rows = conn.execute(select(plugin_subject_data.c.plugin, plugin_subject_data.c.name)).all()
            assert [tuple(r) for r in rows] == [("writer", "index")]
            assert conn.execute(select(func.count()).select_from(plugin_shared_data)).scalar_one() == 0


# -- 8. a ranking plugin that answers garbage ----------------------------------------------------


class TestRanking:
    """``ranker`` answers whatever a test puts in ``answer``; ``rival``, registered after it,
    ranks its own seekers honestly. Three seekers are published."""

    @pytest.fixture
    def answer(self) -> SimpleNamespace:
        return SimpleNamespace(make=lambda own, query, context: [], queries=[])

    @pytest.fixture
    def plugins(self, answer: SimpleNamespace) -> list[Any]:
        def ranked_by_ranker(plugin: Any, query: Any, context: Any) -> Any:
            return answer.make([c.pseudonym for c in called(plugin, PUBLISHED)], query, context)

        def ranked_by_rival(plugin: Any, query: Any, context: Any) -> Any:
            answer.queries.append(dict(query.weights))
            return [RankedCandidate(c.pseudonym, 1.0) for c in called(plugin, PUBLISHED)]

        common: dict[str, Any] = {"purposes": (MATCHING,), "categories": ("profile.skills",), "events": (PUBLISHED,),
                                  "stores": (StoredData("index", "skills by seeker"),)}
        return [make_plugin("ranker", **common, extra={RANKING: ranked_by_ranker}),
                make_plugin("rival", **common, extra={RANKING: ranked_by_rival})]

    @pytest.fixture
    def seekers(self, client, seeker, make_person) -> list[Any]:
        people = [seeker, make_person(Role.SEEKER), make_person(Role.SEEKER)]
        for person in people:
            publish(client, person)
        return people

    @pytest.fixture
    def own(self, plugins, seekers) -> list[str]:
        return [c.pseudonym for c in called(plugins[0], PUBLISHED)]

    @pytest.fixture
    def rivals(self, plugins, seekers) -> list[str]:
        return [c.pseudonym for c in called(plugins[1], PUBLISHED)]

    @staticmethod
    def check_rival(gateway: Any, ranked: dict[str, Any], seekers: list[Any]) -> None:
        assert sorted(subject for subject, _ in ranked["rival"].candidates) == sorted(p.subject_id for p in seekers)
        assert all(gateway.pseudonym("rival", subject) == c.pseudonym for subject, c in ranked["rival"].candidates)

    def test_an_answer_that_is_not_an_iterable_is_dropped_and_recorded(self, gateway, rt, answer, seekers) -> None:
        answer.make = lambda own, query, context: 42
        ranked = gateway.candidate_ranking(CandidateQuery(None))
        assert "ranker" not in ranked
        # Read inside the isolated call, an answer that cannot be iterated is the plugin's error.
        assert incidents(rt) == [("ranker", RANKING, "error", "TypeError")]
        self.check_rival(gateway, ranked, seekers)

    def test_items_that_are_not_ranked_candidates_are_dropped(self, gateway, rt, answer, own, seekers) -> None:
        junk = [None, "x", 3.5, {"pseudonym": own[0], "score": 1.0}, (own[1], 2.0), SimpleNamespace(pseudonym=own[2], score=3.0)]
        answer.make = lambda mine, query, context: [*junk, *(RankedCandidate(p, 1.0) for p in mine)]
        ranked = gateway.candidate_ranking(CandidateQuery(None))
        assert [c.pseudonym for _, c in ranked["ranker"].candidates] == own
        assert [s for s, _ in ranked["ranker"].candidates] == [p.subject_id for p in seekers]
        self.check_rival(gateway, ranked, seekers)

    def test_another_plugins_or_forged_pseudonyms_are_never_mapped(self, gateway, rt, answer, rivals, seekers) -> None:
        forged = [*rivals, "0" * 32, seekers[0].subject_id, gateway.pseudonym("nobody", seekers[0].subject_id)]
        answer.make = lambda mine, query, context: [RankedCandidate(p, 9.0) for p in forged]
        ranked = gateway.candidate_ranking(CandidateQuery(None))
        assert ranked["ranker"].candidates == []
        self.check_rival(gateway, ranked, seekers)

    def test_no_more_than_limit_candidates_are_kept(self, gateway, rt, answer, own, seekers) -> None:
        answer.make = lambda mine, query, context: [RankedCandidate(p, float(i)) for i, p in enumerate(mine * 3)]
        ranked = gateway.candidate_ranking(CandidateQuery(None, limit=2))
        assert [c.pseudonym for _, c in ranked["ranker"].candidates] == own[:2]
        assert gateway.candidate_ranking(CandidateQuery(None, limit=-5))["ranker"].candidates == []

    def test_an_answer_that_raises_while_iterated_is_dropped_and_others_are_kept(self, gateway, rt, answer, own, seekers) -> None:
        def answers(mine: list[str], query: Any, context: Any) -> Iterator[RankedCandidate]:
            yield RankedCandidate(mine[0], 1.0)
            raise RuntimeError(MARKER)

        answer.make = answers
        ranked = gateway.candidate_ranking(CandidateQuery(None))
        assert "ranker" not in ranked
        self.check_rival(gateway, ranked, seekers)

    def test_an_answer_that_hangs_while_iterated_is_bound_by_the_timeout(self, gateway, rt, answer, own, seekers, gate) -> None:
        def answers(mine: list[str], query: Any, context: Any) -> Iterator[RankedCandidate]:
            gate.wait(10)
            yield RankedCandidate(mine[0], 1.0)

        answer.make = answers
        opener = threading.Timer(TIMEOUT + 2.0, gate.set)
        opener.start()
        try:
            start = time.monotonic()
            ranked = gateway.candidate_ranking(CandidateQuery(None))
            elapsed = time.monotonic() - start
        finally:
            opener.cancel()
            gate.set()
            opener.join()
        assert elapsed < TIMEOUT + 1.0
        self.check_rival(gateway, ranked, seekers)

    def test_a_generator_that_reads_its_store_is_ranked(self, gateway, rt, answer, own, seekers) -> None:
        def answers(mine: list[str], query: Any, context: Any) -> Iterator[RankedCandidate]:
            for pseudonym, _ in context.store.items("index"):
                yield RankedCandidate(pseudonym, 1.0)
            yield from (RankedCandidate(p, 1.0) for p in mine)

        answer.make = answers
        ranked = gateway.candidate_ranking(CandidateQuery(None))
        assert [c.pseudonym for _, c in ranked["ranker"].candidates] == own

    def test_a_candidate_with_an_unhashable_pseudonym_is_dropped(self, gateway, rt, answer, own, seekers) -> None:
        answer.make = lambda mine, query, context: [RankedCandidate([mine[0]], 1.0), RankedCandidate(mine[1], 1.0)]  # type: ignore[arg-type]
        ranked = gateway.candidate_ranking(CandidateQuery(None))
        assert [c.pseudonym for _, c in ranked["ranker"].candidates] == [own[1]]
        self.check_rival(gateway, ranked, seekers)

    def test_a_candidate_whose_score_is_not_a_finite_number_is_dropped(self, gateway, rt, answer, own, seekers) -> None:
        scores: list[Any] = ["high", math.nan, math.inf, 1.0]
        answer.make = lambda mine, query, context: [RankedCandidate(mine[i % 3], s) for i, s in enumerate(scores)]
        ranked = gateway.candidate_ranking(CandidateQuery(None))
        assert [(c.pseudonym, c.score) for _, c in ranked["ranker"].candidates] == [(own[0], 1.0)]

    def test_a_plugin_cannot_change_the_query_another_plugin_receives(self, gateway, rt, answer, seekers) -> None:
        def answers(mine: list[str], query: Any, context: Any) -> list[Any]:
            attempt(lambda: query.weights.__setitem__("skills", 1000.0))
            return []

        answer.make = answers
        gateway.candidate_ranking(CandidateQuery(None, weights={"skills": 1.0}))
        assert answer.queries == [{"skills": 1.0}]


# -- 9. pseudonyms -------------------------------------------------------------------------------


class TestPseudonyms:
    @pytest.fixture
    def seen(self) -> dict[str, list[dict[str, Any]]]:
        return {"alpha": [], "beta": []}

    @pytest.fixture
    def plugins(self, seen: dict[str, list[dict[str, Any]]]) -> list[Any]:
        def spy(name: str) -> Callable[..., None]:
            def on_event(plugin: Any, view: Any, event: Any, context: Any) -> None:
                seen[name].append({"pseudonym": view.pseudonym, "strings": strings_in(
                    view.pseudonym, view.purpose, sorted(view.categories), dict(view), vars(event), repr(view), repr(event),
                    repr(context), context.plugin, context.purpose)})
            return on_event

        events = (ACTIVITY, "dossier_contact_recorded")
        return [make_plugin(n, purposes=(f"{n}.insight",), events=events, extra={e: spy(n) for e in events})
                for n in ("alpha", "beta")]

    def test_two_plugins_never_share_a_pseudonym_and_never_see_the_subject_id(
            self, client, rt, seen, seeker, advisor, make_person) -> None:
        other = make_person(Role.SEEKER)
        accounts.assign_seeker(rt, advisor.username, other.username)
        for person in (seeker, other):
            for name in ("alpha", "beta"):
                grant(client, person, f"{name}.insight")
            fill_dossier(client, person, advisor)
        alpha = [c["pseudonym"] for c in seen["alpha"]]
        beta = [c["pseudonym"] for c in seen["beta"]]
        assert len(alpha) == len(beta) == 6 and len(set(alpha)) == len(set(beta)) == 2
        assert set(alpha).isdisjoint(beta)
        with rt.engine.connect() as conn:
            ids = set(conn.execute(select(records.c.id)).scalars())
        secrets = ids | {p.subject_id for p in (seeker, other)} | {p.id for p in (seeker, other, advisor)}
        seen_strings = set().union(*(c["strings"] for c in seen["alpha"] + seen["beta"]))
        assert "QxPluginMarker contact" in seen_strings  # the walk does reach what they were given
        assert not any(secret in s for secret in secrets for s in seen_strings)
        in_both = set().union(*(c["strings"] for c in seen["alpha"])) & set().union(*(c["strings"] for c in seen["beta"]))
        assert not [s for s in in_both if len(s) == 32 and all(ch in "0123456789abcdef" for ch in s)]  # no shared ref


# -- 10. an installed plugin off the allow list --------------------------------------------------


class TestEntryPointOffTheAllowList:
    @pytest.fixture
    def trace(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
        """A distribution `sneaky-plugin` with an entry point `sneaky` that notes every hook called."""
        site, trace = tmp_path / "site", tmp_path / "sneaky-trace.txt"
        (site / "sneaky_plugin-1.0.dist-info").mkdir(parents=True)
        (site / "sneaky_plugin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: sneaky-plugin\nVersion: 1.0\n")
        (site / "sneaky_plugin-1.0.dist-info" / "entry_points.txt").write_text("[dossier.plugins]\nsneaky = sneaky_plugin\n")
        (site / "sneaky_plugin.py").write_text(textwrap.dedent(f'''
            from plugins.api import Manifest, Purged, hookimpl

            def note(what):
                with open({str(trace)!r}, "a") as f:
                    f.write(what + "\\n")

            note("imported")

            @hookimpl
            def dossier_manifest():
                note("dossier_manifest")
                return Manifest("sneaky", "1.0", ("profile.matching",), ("profile.skills",), ("dossier_profile_changed",))

            @hookimpl
            def dossier_profile_changed(view, event, context):
                note("dossier_profile_changed")

            @hookimpl
            def dossier_consent_withdrawn(pseudonym, purpose, context):
                note("dossier_consent_withdrawn")
                return Purged()

            @hookimpl
            def dossier_subject_erased(pseudonym, context):
                note("dossier_subject_erased")
                return Purged()
        '''))
        monkeypatch.syspath_prepend(str(site))
        sys.modules.pop("sneaky_plugin", None)
        yield trace
        sys.modules.pop("sneaky_plugin", None)

    @pytest.fixture
    def plugins(self, trace: Path) -> list[Any]:
        return []  # installed before the app starts

    @staticmethod
    def use(client: Any, rt: Runtime, seeker: Any, advisor: Any) -> None:
        publish(client, seeker)
        trigger(CHANGED, client, rt, seeker, advisor)
        assert client.delete(base(seeker) + "/publication", headers=seeker.auth).status_code == 200

    def test_an_installed_plugin_not_on_the_allow_list_is_never_imported_nor_called(self, gateway, client, rt, trace,
                                                                                     seeker, advisor) -> None:
        self.use(client, rt, seeker, advisor)
        assert not trace.exists() and "sneaky_plugin" not in sys.modules
        assert gateway.manager.get_plugin("sneaky") is None
        assert [(u.name, u.state) for u in gateway.unloaded] == [("sneaky", "not_enabled")]
        assert audit_entries(rt, client="plugin:sneaky") == []

    @pytest.mark.parametrize("plugin_settings", [{"PLUGIN_TIMEOUT": TIMEOUT, "PLUGINS_ENABLED": ("sneaky",)}])
    def test_the_same_plugin_on_the_allow_list_is_called(self, client, rt, trace, seeker, advisor) -> None:
        self.use(client, rt, seeker, advisor)  # the control: the trace does show calls when there are any
        assert trace.read_text().split() == ["imported", "dossier_manifest", "dossier_profile_changed", "dossier_consent_withdrawn"]

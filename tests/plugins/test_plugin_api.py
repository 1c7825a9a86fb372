"""What the plugin API gives plugins for real work: their own settings, a change feed on their store,
a process start hook, and a purge that holds against a call still in flight."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from config.settings import ConfigError
from core.plugins.gateway import plugin_gateway
from core.runtime import runtime
from plugins.api import PluginSetting, Purged, Revoked, StoredData
from tests.plugins.conftest import make_plugin
from tests.plugins.helpers import SKILLS, base, grant, trigger, withdraw

INSIGHT = "feed.insight"
SLOW = "slow.insight"
CHANGED = "dossier_profile_changed"
STORES = (StoredData("index", "per seeker"),)


# -- settings ----------------------------------------------------------------------------------

SETTINGS = (PluginSetting("radius_km", int, 30, "search radius", minimum=0, maximum=500),
            PluginSetting("mode", str, "strict", choices=("strict", "loose")),
            PluginSetting("labels", tuple, ("fr", "en")))


def settings_probe() -> Any:
    seen: dict[str, Any] = {}

    def started(plugin: Any, context: Any) -> None:
        seen.update(context.settings)

    plugin = make_plugin("tuned", purposes=(), categories=(), settings=SETTINGS, purge=False,
                         extra={"dossier_process_started": started})
    plugin.seen = seen
    return plugin


def test_a_plugin_reads_its_settings_checked_with_defaults_filled_in(start_app) -> None:
    plugin = settings_probe()
    start_app(plugin, PLUGINS={"tuned": {"radius_km": 12, "labels": ["nl"]}})
    assert plugin.seen == {"radius_km": 12, "mode": "strict", "labels": ("nl",)}


@pytest.mark.parametrize(("given", "message"), [
    ({"tuned": {"radius": 12}}, "plugin tuned: PLUGINS: unknown setting radius (it declares labels, mode, radius_km)"),
    ({"tuned": {"radius_km": "12"}}, "plugin tuned: PLUGINS: setting radius_km must be of type int"),
    ({"tuned": {"radius_km": 900}}, "plugin tuned: PLUGINS: setting radius_km must be between 0 and 500"),
    ({"tuned": {"mode": "fuzzy"}}, "plugin tuned: PLUGINS: setting mode must be one of strict, loose"),
    ({"tuned": {"labels": "fr"}}, "plugin tuned: PLUGINS: setting labels must be a list of strings"),
    ({"tunde": {}}, "PLUGINS: no installed plugin is named tunde"),
])
def test_a_bad_setting_stops_start_up_with_one_line_naming_it(start_app, given, message) -> None:
    with pytest.raises(ConfigError) as refused:
        start_app(settings_probe(), PLUGINS=given)
    assert str(refused.value) == message


def test_settings_come_from_the_instance_file_and_the_environment(tmp_path, monkeypatch) -> None:
    from config.settings import load_settings

    (tmp_path / "dossier.toml").write_text('[plugins.tuned]\nradius_km = 7\n')
    assert load_settings({"INSTANCE_PATH": str(tmp_path)}, environ={}).PLUGINS == {"tuned": {"radius_km": 7}}
    environ = {"DOSSIER_PLUGINS": '{"tuned": {"mode": "loose"}}'}
    assert load_settings({"INSTANCE_PATH": str(tmp_path)}, environ=environ).PLUGINS == {"tuned": {"mode": "loose"}}
    with pytest.raises(ConfigError, match="DOSSIER_PLUGINS: expected a table of plugin names"):
        load_settings({"INSTANCE_PATH": str(tmp_path)}, environ={"DOSSIER_PLUGINS": '["tuned"]'})


# -- the change feed and the process start -----------------------------------------------------


class Feed:
    """Indexes each seeker's skills on every profile change; keeps an in-memory copy from the feed."""

    def __init__(self) -> None:
        self.copy: dict[str, Any] = {}
        self.cursor = 0
        self.started: list[str | None] = []

    def plugin(self) -> Any:
        def changed(plugin: Any, view: Any, event: Any, context: Any) -> None:
            context.store.put(view.pseudonym, "index", {"skills": list(view["profile.skills"] or ())})

        def started(plugin: Any, context: Any) -> None:
            self.started.append(context.purpose)
            self.catch_up(context)

        return make_plugin("feed", purposes=(INSIGHT,), categories=("profile.skills",), events=(CHANGED,), stores=STORES,
                           extra={CHANGED: changed, "dossier_process_started": started})

    def catch_up(self, context: Any) -> Any:
        changes = context.store.changes("index", self.cursor)
        for pseudonym, value in changes.changed:
            self.copy[pseudonym] = value
        for pseudonym in changes.removed:
            self.copy.pop(pseudonym, None)
        self.cursor = changes.cursor
        return changes


@pytest.fixture
def feed() -> Feed:
    return Feed()


@pytest.fixture
def plugins(feed: Feed) -> list[Any]:
    return [feed.plugin()]


def catch_up(client: Any, feed: Feed) -> Any:
    context = plugin_gateway(client.application).open_context("feed", INSIGHT)
    try:
        return feed.catch_up(context)
    finally:
        context.end()


def test_the_feed_gives_what_changed_since_a_cursor_and_what_went(client, rt, feed, seeker, advisor, make_person) -> None:
    from core.identity.roles import Role

    other = make_person(Role.SEEKER)
    for person in (seeker, other):
        grant(client, person, INSIGHT)
        trigger(CHANGED, client, rt, person, advisor)
    first = catch_up(client, feed)
    assert len(first.changed) == 2 and first.removed == () and first.cursor > 0
    assert catch_up(client, feed).changed == ()  # nothing since
    assert client.patch(base(seeker) + "/profile", json={"skills": SKILLS[:1]}, headers=seeker.auth).status_code == 200
    again = catch_up(client, feed)
    assert [value for _, value in again.changed] == [{"skills": SKILLS[:1]}] and again.cursor > first.cursor
    withdraw(client, other, INSIGHT)
    gone = catch_up(client, feed)
    assert gone.changed == () and len(gone.removed) == 1 and gone.removed[0] not in (other.subject_id,)
    assert client.delete(base(seeker), headers=seeker.auth).status_code == 204  # erased
    assert len(catch_up(client, feed).removed) == 1
    assert feed.copy == {}


def test_a_stale_copy_is_never_returned_by_a_fresh_start(client, rt, feed, seeker, advisor, start_app, plugins) -> None:
    grant(client, seeker, INSIGHT)
    trigger(CHANGED, client, rt, seeker, advisor)
    withdraw(client, seeker, INSIGHT)
    fresh = Feed()
    start_app(fresh.plugin())  # another process, with no copy yet: it builds from the feed
    assert fresh.started == [INSIGHT] and fresh.copy == {} and fresh.cursor > 0


def test_the_process_start_is_told_once_per_purpose_and_not_to_one_off_commands(app, feed, instance, database_url) -> None:
    assert feed.started == [INSIGHT]  # the app of this test started
    from core.app import create_app

    quiet = Feed()
    one_off = create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": database_url, "TESTING": True},
                         plugins=[quiet.plugin()], start=False)
    runtime(one_off).engine.dispose()
    assert quiet.started == []


def test_the_feed_takes_only_a_cursor(client, feed) -> None:
    context = plugin_gateway(client.application).open_context("feed", INSIGHT)
    with pytest.raises(ValueError, match="cursor"):
        context.store.changes("index", -1)
    with pytest.raises(ValueError, match="not a per-seeker store"):
        context.store.changes("elsewhere")
    context.end()


# -- a purge that is true --------------------------------------------------------------------------


class Slow:
    """An event hook that takes its time, writing to an outside index before and after a pause."""

    def __init__(self) -> None:
        self.outside: dict[str, Any] = {}
        self.in_hook = threading.Event()
        self.hook_ended_at = 0.0

    def plugin(self) -> Any:
        def changed(plugin: Any, view: Any, event: Any, context: Any) -> None:
            self.outside[view.pseudonym] = {"skills": list(view["profile.skills"] or ())}
            self.in_hook.set()
            time.sleep(0.6)  # the seeker withdraws meanwhile
            self.outside[view.pseudonym]["late"] = True  # written after the view was issued
            self.hook_ended_at = time.monotonic()

        def withdrawn(plugin: Any, pseudonym: str, purpose: str, context: Any) -> Purged:
            return Purged(items=1 if self.outside.pop(pseudonym, None) is not None else 0)

        return make_plugin("slow", purposes=(SLOW,), categories=("profile.skills",), events=(CHANGED,), purge=False,
                           brings=None, extra={CHANGED: changed, "dossier_consent_withdrawn": withdrawn,
                                               "dossier_subject_erased": lambda plugin, pseudonym, context: Purged()})


@pytest.fixture
def slow() -> Slow:
    return Slow()


class TestPurgeWaitsForCallsInFlight:
    @pytest.fixture
    def plugins(self, slow: Slow) -> list[Any]:
        return [slow.plugin()]

    @pytest.fixture
    def plugin_settings(self) -> dict[str, Any]:
        return {"PLUGIN_DISPATCH_INTERVAL": 1.0}  # events delivered by a worker of their own, as in production

    def test_the_withdrawal_answers_after_the_hook_ended_and_nothing_it_wrote_survives(self, client, rt, slow, seeker) -> None:
        from core.plugins.outbox import dispatch_pending

        grant(client, seeker, SLOW)
        assert client.patch(base(seeker) + "/profile", json={"skills": SKILLS}, headers=seeker.auth).status_code == 200
        delivery = threading.Thread(target=dispatch_pending, args=(rt, plugin_gateway(client.application)))
        delivery.start()
        assert slow.in_hook.wait(5)
        response = client.delete(base(seeker) + f"/consents/{SLOW}", headers=seeker.auth)
        answered_at = time.monotonic()
        delivery.join(5)
        assert response.status_code == 200
        assert slow.hook_ended_at and answered_at >= slow.hook_ended_at  # the withdrawal waited for the hook
        assert slow.outside == {}  # the purge came after the late write and took it too
        from tests.plugins.helpers import audit_entries

        (purge,) = audit_entries(rt, action="plugin:data:purge", client="plugin:slow")
        assert purge["reason"] == "consent_withdrawn:1"


def test_a_call_is_named_by_a_token_no_other_call_can_guess(client, feed) -> None:
    gateway = plugin_gateway(client.application)
    first, second = gateway.open_context("feed", INSIGHT), gateway.open_context("feed", INSIGHT)
    tokens = {first._number, second._number}
    assert len(tokens) == 2 and all(len(t) == 32 and int(t, 16) >= 0 for t in tokens)
    forged = type(first.store)("0" * 32)  # a store built on a number of one's own reaches no call
    with pytest.raises(Revoked):
        forged.get("someone", "index")
    first.end()
    second.end()

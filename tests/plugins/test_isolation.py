"""What a plugin's thread can reach, what happens when work after a commit fails, and the race
between a withdrawal and a release on PostgreSQL."""

from __future__ import annotations

import threading
import time
from typing import Any

import flask
import pytest
from sqlalchemy import func, insert, select, update

from consent.models import consent_states
from core.models import subjects
from core.plugins import outbox
from core.plugins.models import plugin_events, plugin_holdings
from core.plugins.gateway import plugin_gateway
from core.plugins.worker import work
from plugins.api import Purged
from tests.plugins.conftest import INSIGHT, make_plugin
from tests.plugins.helpers import audit_entries, grant, trigger, withdraw

CHANGED = "dossier_profile_changed"


class Probe:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.items: Any = 1

    def hooks(self) -> dict[str, Any]:
        def changed(plugin: Any, view: Any, event: Any, context: Any) -> None:
            self.seen.append({"request": flask.has_request_context(), "app": flask.has_app_context()})

        def withdrawn(plugin: Any, pseudonym: str, purpose: str, context: Any) -> Any:
            return Purged(items=self.items)

        return {CHANGED: changed, "dossier_consent_withdrawn": withdrawn}


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
def plugins(probe: Probe) -> list[Any]:
    return [make_plugin(events=(CHANGED,), purge=True, extra=probe.hooks())]


def test_a_plugin_runs_outside_the_request_and_the_app(client, rt, probe, seeker, advisor) -> None:
    grant(client, seeker, INSIGHT)
    trigger(CHANGED, client, rt, seeker, advisor)
    assert probe.seen == [{"request": False, "app": False}]
    # ... while its release still names the request that caused it.
    assert audit_entries(rt, action="plugin:view:release", client="plugin:recorder")[-1]["request_id"]


def test_an_odd_purge_answer_is_no_confirmation_and_the_withdrawal_stands(client, rt, probe, seeker, advisor, make_person) -> None:
    from core.identity.roles import Role

    probe.items = "many"  # not a count
    grant(client, seeker, INSIGHT)
    trigger(CHANGED, client, rt, seeker, advisor)
    withdraw(client, seeker, INSIGHT)  # answers 200
    (pending,) = client.get("/api/v1/plugins/purges?pending=true", headers=make_person(Role.ADMIN).auth).get_json()
    assert pending["last_error"] == "not_confirmed"
    assert audit_entries(rt, action="plugin:data:purge") == []


def test_work_after_a_commit_that_fails_does_not_fail_the_request(client, rt, probe, seeker, advisor, monkeypatch) -> None:
    grant(client, seeker, INSIGHT)

    def broken(rt: Any) -> int:
        raise RuntimeError("the delivery broke")

    monkeypatch.setattr(outbox, "dispatch_pending", broken)
    trigger(CHANGED, client, rt, seeker, advisor)  # the PATCH still answers 200
    assert probe.seen == []
    with rt.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(plugin_events)).scalar_one() == 1  # kept for later
    monkeypatch.undo()
    assert work(rt, plugin_gateway(client.application))["events_delivered"] == 1 and len(probe.seen) == 1


def test_an_event_that_cannot_be_delivered_is_dropped_and_the_next_delivered(client, rt, probe, seeker, advisor, caplog) -> None:
    grant(client, seeker, INSIGHT)
    with rt.transaction() as conn:
        # A decided contact request whose payload lost its fields (as a bug or a bad row would leave it).
        conn.execute(insert(plugin_events).values(event="dossier_contact_request_decided", subject_id=seeker.subject_id,
                                                  payload="{}", created_at=rt.clock()))
    trigger(CHANGED, client, rt, seeker, advisor)
    assert len(probe.seen) == 1
    assert "plugin event dropped" in caplog.text
    with rt.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(plugin_events)).scalar_one() == 0


def test_a_release_that_waits_on_a_withdrawal_sees_it(client, rt, seeker, advisor) -> None:
    """On PostgreSQL: a release that had to wait for a withdrawal's lock must decide on its outcome."""
    if rt.engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises every write transaction on the writer lock; the race is PostgreSQL's")
    grant(client, seeker, INSIGHT)
    gateway = plugin_gateway(client.application)
    plugin = gateway.plugins["recorder"]
    outcome: dict[str, Any] = {}
    with rt.engine.connect() as withdrawal:
        with withdrawal.begin():
            # As the withdrawal does: hold the subject's row, then move the consent to withdrawn.
            withdrawal.execute(select(subjects.c.id).where(subjects.c.id == seeker.subject_id).with_for_update())
            withdrawal.execute(update(consent_states).where(consent_states.c.subject_id == seeker.subject_id,
                                                            consent_states.c.purpose == INSIGHT).values(state="withdrawn"))
            released = threading.Thread(target=lambda: outcome.setdefault(
                "view", gateway._release(plugin, seeker.subject_id, INSIGHT, plugin.categories, None)))
            released.start()
            time.sleep(0.5)  # the release now waits on the row
            assert released.is_alive()
        released.join(10)
    assert outcome["view"] is None  # refused: the consent it waited for was gone
    with rt.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(plugin_holdings)).scalar_one() == 0

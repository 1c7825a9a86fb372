"""The purge protocol: erasure and withdrawal reach every holder, unconfirmed purges are retried
and reported, lapsed consents are swept, and confirmations are audit entries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core.plugins import purges
from core.plugins.gateway import plugin_gateway
from core.plugins.models import plugin_holdings, plugin_purges
from core.plugins.worker import work
from core.identity.roles import Role
from plugins.api import Purged
from tests.plugins.conftest import INSIGHT, make_plugin
from tests.plugins.helpers import audit_entries, base, fill_dossier, grant, trigger, withdraw

EVENT = "dossier_activity_recorded"


class Flaky:
    """Purge hooks that fail until told to work."""

    def __init__(self) -> None:
        self.working = False
        self.attempts = 0

    def hooks(self) -> dict[str, Any]:
        def withdrawn(plugin: Any, pseudonym: str, purpose: str, context: Any) -> Any:
            self.attempts += 1
            if not self.working:
                raise RuntimeError("index unavailable: 12 rue des Lilas")  # a message that must not be kept
            return Purged(items=4)

        def erased(plugin: Any, pseudonym: str, context: Any) -> Any:
            self.attempts += 1
            return Purged() if self.working else None  # None: not a confirmation

        return {"dossier_consent_withdrawn": withdrawn, "dossier_subject_erased": erased}


@pytest.fixture
def flaky() -> Flaky:
    return Flaky()


@pytest.fixture
def plugins(flaky: Flaky) -> list[Any]:
    return [
        make_plugin(events=(EVENT,)),
        make_plugin("unsure", purposes=("unsure.insight",), events=(EVENT,), purge=False,
                    extra=flaky.hooks()),
    ]


def holdings(rt: Any) -> list[tuple[str, str]]:
    with rt.engine.connect() as conn:
        return sorted(conn.execute(select(plugin_holdings.c.plugin, plugin_holdings.c.purpose)).all())


def test_erasure_asks_every_holder_to_purge_and_records_each_confirmation(client, rt, plugins, flaky, seeker, advisor) -> None:
    flaky.working = True
    grant(client, seeker, INSIGHT)
    grant(client, seeker, "unsure.insight")
    trigger(EVENT, client, rt, seeker, advisor)
    assert holdings(rt) == [("recorder", INSIGHT), ("unsure", "unsure.insight")]
    assert client.delete(base(seeker), headers=seeker.auth).status_code in (202, 204)
    (erased,) = [c for c in plugins[0].calls if c.hook == "dossier_subject_erased"]
    assert erased.pseudonym == [c for c in plugins[0].calls if c.hook == EVENT][0].pseudonym
    assert flaky.attempts == 1
    confirmations = audit_entries(rt, action="plugin:data:purge", subject=seeker.subject_id)
    assert sorted((e["actor"]["client"], e["reason"]) for e in confirmations) == [
        ("plugin:recorder", "subject_erased:2"), ("plugin:unsure", "subject_erased:0")]
    assert holdings(rt) == []


def test_an_unconfirmed_purge_is_retried_until_confirmed_and_shown_to_admins(client, rt, make_person, flaky, seeker, advisor) -> None:
    grant(client, seeker, "unsure.insight")
    trigger(EVENT, client, rt, seeker, advisor)
    withdraw(client, seeker, "unsure.insight")  # the withdrawal itself succeeds
    assert flaky.attempts == 1
    admin = make_person(Role.ADMIN)
    (pending,) = client.get("/api/v1/plugins/purges?pending=true", headers=admin.auth).get_json()
    assert (pending["plugin"], pending["state"], pending["attempts"], pending["cause"]) == ("unsure", "pending", 1, "consent_withdrawn")
    assert pending["last_error"] == "RuntimeError"  # the kind, never the message
    register = {p["name"]: p for p in client.get("/api/v1/plugins", headers=admin.auth).get_json()}
    assert register["unsure"]["health"]["unconfirmed_purges"] == 1
    assert register["unsure"]["health"]["incidents_last_7_days"] == 1

    # Not due yet: the worker leaves it.
    assert work(rt, plugin_gateway(client.application))["purges_confirmed"] == 0 and flaky.attempts == 1
    # Due, still failing: the delay doubles.
    start = rt.clock()
    rt.clock = lambda: start + timedelta(seconds=31)
    work(rt, plugin_gateway(client.application))
    assert flaky.attempts == 2
    with rt.engine.connect() as conn:
        row = conn.execute(select(plugin_purges)).one()
    assert row.attempts == 2 and row.last_error == "RuntimeError"
    # Fixed: the next due attempt confirms, and the confirmation is audited.
    flaky.working = True
    rt.clock = lambda: start + timedelta(seconds=31 + 61)
    assert work(rt, plugin_gateway(client.application))["purges_confirmed"] == 1
    assert client.get("/api/v1/plugins/purges?pending=true", headers=admin.auth).get_json() == []
    (confirmed,) = client.get("/api/v1/plugins/purges", headers=admin.auth).get_json()
    assert (confirmed["state"], confirmed["items"], confirmed["attempts"]) == ("confirmed", 4, 3)
    assert [e["reason"] for e in audit_entries(rt, action="plugin:data:purge", client="plugin:unsure")] == ["consent_withdrawn:4"]


def test_nothing_of_an_error_message_is_kept(client, rt, make_person, seeker, advisor, caplog) -> None:
    from core.plugins.models import plugin_incidents
    from tests.acceptance.test_at_rest import raw_database_bytes

    grant(client, seeker, "unsure.insight")
    trigger(EVENT, client, rt, seeker, advisor)
    with caplog.at_level("INFO", logger="dossier"):
        withdraw(client, seeker, "unsure.insight")
    with rt.engine.connect() as conn:
        kept = repr(conn.execute(select(plugin_purges)).all()) + repr(conn.execute(select(plugin_incidents)).all())
    assert "RuntimeError" in kept  # the kind is kept...
    assert "Lilas" not in kept and "Lilas" not in caplog.text  # ...never the message
    assert b"Lilas" not in raw_database_bytes(rt)
    assert "plugin purge not confirmed" in caplog.text


def test_a_lapsed_consent_is_swept_into_a_purge(client, rt, plugins, seeker, advisor) -> None:
    response = client.post(base(seeker) + "/consents", headers=seeker.auth,
                           json={"purpose": INSIGHT, "notice_version": 1, "expires_at": (rt.clock() + timedelta(days=1)).isoformat()})
    assert response.status_code == 201
    trigger(EVENT, client, rt, seeker, advisor)
    assert ("recorder", INSIGHT) in holdings(rt)
    assert work(rt, plugin_gateway(client.application))["purges_scheduled_for_lapsed_consents"] == 0  # still live
    start = rt.clock()
    rt.clock = lambda: start + timedelta(days=2)
    assert work(rt, plugin_gateway(client.application))["purges_scheduled_for_lapsed_consents"] == 1
    (purge,) = [c for c in plugins[0].calls if c.hook == "dossier_consent_withdrawn"]
    assert purge.arguments["purpose"] == INSIGHT
    assert audit_entries(rt, action="plugin:data:purge", client="plugin:recorder")[0]["reason"] == "consent_lapsed:1"
    assert ("recorder", INSIGHT) not in holdings(rt)


def test_a_purge_for_a_plugin_that_is_gone_stays_pending(client, rt, start_app, seeker, advisor) -> None:
    grant(client, seeker, INSIGHT)
    trigger(EVENT, client, rt, seeker, advisor)
    with rt.transaction() as conn:
        # As if the holding belonged to a plugin since removed from the instance.
        conn.execute(plugin_holdings.update().values(plugin="removed"))
        ids = purges.schedule(rt, plugin_gateway(client.application), conn, seeker.subject_id, INSIGHT,
                              purges.Cause.CONSENT_WITHDRAWN, rt.clock())
    assert len(ids) == 1
    with rt.engine.connect() as conn:
        row = conn.execute(select(plugin_purges)).one()
        assert conn.execute(select(func.count()).select_from(plugin_holdings)).scalar_one() == 0
    assert (row.plugin, row.confirmed_at, row.last_error) == ("removed", None, "plugin_not_loaded")


def test_withdrawing_a_purpose_purges_only_that_purpose(client, rt, plugins, seeker, advisor) -> None:
    grant(client, seeker, INSIGHT)
    grant(client, seeker, "unsure.insight")
    fill_dossier(client, seeker, advisor)
    withdraw(client, seeker, INSIGHT)
    assert holdings(rt) == [("unsure", "unsure.insight")]
    assert [c.hook for c in plugins[1].calls] == [EVENT] * 2  # the other plugin was not asked to purge

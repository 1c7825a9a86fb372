"""Every event hook, with and without consent, and after withdrawal (issue 5, "What must be shown").

The test plugin serves one consent purpose it brings (``recorder.insight``), which covers some of
the profile, two kinds of activity and the contact history; each hook is exercised through what
users do (publish, change the profile, record an activity or a contact).
"""

from __future__ import annotations

from typing import Any

import pytest

from core.plugins.hookspecs import SUBJECT_EVENT_HOOKS
from core.plugins.outbox import Event, emit, employer_search_payload
from tests.plugins.conftest import INSIGHT, INSIGHT_CATEGORIES, make_plugin
from tests.plugins.helpers import OCCUPATIONS, SKILLS, audit_entries, fill_dossier, grant, trigger, withdraw

RELEASE = "plugin:view:release"
PURGE = "plugin:data:purge"


EVENTS = ["dossier_profile_published", "dossier_profile_changed", "dossier_activity_recorded", "dossier_contact_recorded",
          "dossier_contact_request_decided", "dossier_consent_granted"]


def test_these_are_all_the_events_about_a_seeker() -> None:
    assert sorted(EVENTS) == sorted(SUBJECT_EVENT_HOOKS)


@pytest.fixture(params=EVENTS)
def event(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def recorder(event: str) -> Any:
    return make_plugin(events=(event,))


@pytest.fixture
def plugins(recorder: Any) -> list[Any]:
    return [recorder]


def calls_of(plugin: Any, hook: str) -> list[Any]:
    return [c for c in plugin.calls if c.hook == hook]


def test_without_consent_the_plugin_is_not_called_and_the_refusal_is_audited(event, recorder, client, rt, seeker, advisor) -> None:
    fill_dossier(client, seeker, advisor)
    recorder.calls.clear()
    before = len(audit_entries(rt, action=RELEASE, client="plugin:recorder", decision="deny"))
    trigger(event, client, rt, seeker, advisor)
    assert calls_of(recorder, event) == []
    refusals = audit_entries(rt, action=RELEASE, client="plugin:recorder", decision="deny")
    assert len(refusals) == before + 1
    assert refusals[-1]["subject"] == seeker.subject_id
    assert refusals[-1]["reason"] == "consent_required" and refusals[-1]["purposes"] == [INSIGHT]
    assert refusals[-1]["categories"] == []  # nothing was released


# What each event's view holds of the test purpose's categories: the event's own (gateway.EVENT_CATEGORIES).
EXPECTED = {
    "dossier_profile_published": {"profile.skills", "profile.occupations", "activity.applications", "activity.trainings"},
    "dossier_profile_changed": {"profile.skills", "profile.occupations"},
    "dossier_activity_recorded": {"activity.applications", "activity.trainings"},
    "dossier_contact_recorded": {"contact.history"},
    "dossier_contact_request_decided": {"profile.skills", "profile.occupations"},
    "dossier_consent_granted": set(INSIGHT_CATEGORIES),
}
VALUES = {
    "profile.skills": lambda v: set(v) <= set(SKILLS) and v,
    "profile.occupations": lambda v: v == OCCUPATIONS,
    "activity.applications": lambda v: v[0]["description"] == "QxPluginMarker application",
    "activity.trainings": lambda v: [a["description"] for a in v] == ["QxPluginMarker training"],
    "contact.history": lambda v: "QxPluginMarker contact" in [c["summary"] for c in v],
}


def test_with_consent_the_view_holds_exactly_the_allowed_categories(event, recorder, client, rt, seeker, advisor) -> None:
    fill_dossier(client, seeker, advisor)
    grant(client, seeker, INSIGHT)
    recorder.calls.clear()
    trigger(event, client, rt, seeker, advisor)
    (call,) = calls_of(recorder, event)
    assert call.purpose == INSIGHT
    assert call.categories == frozenset(EXPECTED[event]) == frozenset(call.data)
    for category in EXPECTED[event]:
        assert VALUES[category](call.data[category]), category
    # The plugin knows the seeker by its own pseudonym only.
    assert call.pseudonym and call.pseudonym != seeker.subject_id
    assert seeker.subject_id not in repr(call.data) + repr(call.arguments)
    allowed = audit_entries(rt, action=RELEASE, client="plugin:recorder", decision="allow")
    assert allowed[-1]["categories"] == sorted(EXPECTED[event]) and allowed[-1]["purposes"] == [INSIGHT]


class TestRecordOfAnotherKind:
    """An event about one record reaches a plugin only under a purpose that releases that record."""

    @pytest.fixture
    def recorder(self) -> Any:
        return make_plugin("trainings", purposes=("trainings.insight",), categories=("activity.trainings",),
                           events=("dossier_activity_recorded",))

    def test_an_activity_of_a_kind_the_plugin_does_not_read_does_not_reach_it(self, recorder, client, rt, seeker) -> None:
        grant(client, seeker, "trainings.insight")
        for kind in ("application", "training"):
            assert client.post(f"/api/v1/seekers/{seeker.subject_id}/activities", headers=seeker.auth, json={
                "kind": kind, "occurred_at": "2026-11-20T10:00:00+01:00", "description": kind}).status_code == 201
        (call,) = calls_of(recorder, "dossier_activity_recorded")
        assert call.arguments["event"].record == call.data["activity.trainings"][-1]["ref"]
        # The application was not even considered: no decision, no entry, nothing learnt of it.
        assert len(audit_entries(rt, action=RELEASE, client="plugin:trainings")) == 1


def test_after_withdrawal_the_plugin_is_purged_and_not_called_again(event, recorder, client, rt, seeker, advisor) -> None:
    fill_dossier(client, seeker, advisor)
    grant(client, seeker, INSIGHT)
    trigger(event, client, rt, seeker, advisor)
    (call,) = calls_of(recorder, event)[-1:]
    withdraw(client, seeker, INSIGHT)
    (purge,) = calls_of(recorder, "dossier_consent_withdrawn")
    assert purge.pseudonym == call.pseudonym and purge.arguments["purpose"] == INSIGHT
    confirmation = audit_entries(rt, action=PURGE, client="plugin:recorder")
    assert [e["purposes"] for e in confirmation] == [[INSIGHT]] and confirmation[0]["subject"] == seeker.subject_id
    recorder.calls.clear()
    trigger(event, client, rt, seeker, advisor)
    assert calls_of(recorder, event) == []
    assert audit_entries(rt, action=RELEASE, client="plugin:recorder", decision="deny")[-1]["reason"] == "consent_required"


@pytest.mark.parametrize("event", ["dossier_activity_recorded", "dossier_contact_recorded"])
def test_an_event_record_is_the_ref_of_its_record_in_the_view(event, recorder, client, rt, seeker, advisor) -> None:
    grant(client, seeker, INSIGHT)
    trigger(event, client, rt, seeker, advisor)
    (call,) = calls_of(recorder, event)
    records = call.data["activity.applications"] if event == "dossier_activity_recorded" else call.data["contact.history"]
    assert call.arguments["event"].record == records[-1]["ref"]
    assert call.arguments["event"].name == event.removeprefix("dossier_")


@pytest.mark.parametrize("event", ["dossier_consent_granted"])
def test_granting_a_purpose_tells_its_plugins_under_that_purpose_only(event, recorder, client, rt, seeker, advisor) -> None:
    fill_dossier(client, seeker, advisor)
    assert client.post(f"/api/v1/seekers/{seeker.subject_id}/publication", headers=seeker.auth).status_code == 201
    assert calls_of(recorder, event) == []  # publication grants purposes the plugin does not serve
    grant(client, seeker, INSIGHT)
    (call,) = calls_of(recorder, event)
    assert (call.purpose, call.categories) == (INSIGHT, frozenset(INSIGHT_CATEGORIES))
    assert len(call.data["activity.applications"]) == 1  # the backlog, recorded before the consent


class TestContactRequestDecided:
    """The name and contact details a seeker gives an employer never reach a plugin through this event."""

    @pytest.fixture
    def recorder(self) -> Any:
        return make_plugin("caseworker", purposes=("dossier.public_task", "profile.matching"),
                           categories=("identity", "contact.history", "profile.skills"), events=("dossier_contact_request_decided",))

    def test_the_view_holds_the_profile_and_no_identity(self, recorder, client, rt, seeker, advisor) -> None:
        identity = {"name": "Ana Silva", "email": "ana@example.org", "phone": "+32 470 00 00 00", "national_id": None,
                    "birth_date": "1990-01-02", "address": None}
        assert client.put(f"/api/v1/seekers/{seeker.subject_id}/identity", json=identity, headers=seeker.auth).status_code == 200
        assert client.patch(f"/api/v1/seekers/{seeker.subject_id}/profile", json={"skills": SKILLS}, headers=seeker.auth).status_code == 200
        assert client.post(f"/api/v1/seekers/{seeker.subject_id}/publication", headers=seeker.auth).status_code == 201
        trigger("dossier_contact_request_decided", client, rt, seeker, advisor)
        (call,) = recorder.calls  # under profile.matching only: public_task releases nothing this event is about
        assert (call.purpose, call.categories) == ("profile.matching", frozenset({"profile.skills"}))
        assert "Ana" not in repr(call.data) and "1990" not in repr(call.data)
        assert call.arguments["decision"].decision == "accepted"
        released = audit_entries(rt, action=RELEASE, client="plugin:caseworker")
        assert [e["categories"] for e in released] == [["profile.skills"]]


class TestEmployerSearch:
    """The one event about no seeker: no view, no purpose, no consent involved."""

    @pytest.fixture
    def recorder(self) -> Any:
        return make_plugin("alerter", purposes=(), categories=(), events=("dossier_employer_search_performed",), purge=False)

    def test_it_reaches_its_subscribers_with_the_criteria_and_no_seeker(self, recorder, rt, gateway) -> None:
        with rt.transaction() as conn:
            emit(rt, gateway, conn, Event.EMPLOYER_SEARCH_PERFORMED,
                 payload=employer_search_payload("s-1", "00000000-0000-4000-8000-000000000009", {"occupation": "occ.welder"}, 3))
        (call,) = recorder.calls
        search = call.arguments["search"]
        assert (search.employer_id, search.match_count, dict(search.criteria)) == (
            "00000000-0000-4000-8000-000000000009", 3, {"occupation": "occ.welder"})
        assert call.purpose is None

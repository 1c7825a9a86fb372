"""The two built-in channel integrations: what a call and a response to a job offer become in the
single dossier, who sees them, and what the sender learns."""

from __future__ import annotations

import logging

from core.identity import accounts
from core.identity.roles import Role
from tests.channels.conftest import CALLS, NATIONAL_ID, RESPONSES, activities, contacts, database_rows
from tests.plugins.helpers import audit_entries, base, grant

RESPONSE = {"national_id": NATIONAL_ID, "occurred_at": "2026-12-01T14:30:00+01:00", "employer": "Boulangerie Dupont",
            "offer_title": "Boulanger (H/F)", "offer_reference": "JB-2026-0042"}


def test_a_response_to_an_offer_is_a_contact_and_an_application(client, rt, seeker, jobboard, caplog) -> None:
    with caplog.at_level(logging.DEBUG):
        response = jobboard.post(RESPONSES, RESPONSE)
    assert (response.status_code, response.get_json()) == (202, {"status": "recorded"})
    (contact,) = contacts(client, seeker)
    assert contact["channel"] == "job_offer_response" and "Boulanger (H/F)" in contact["summary"]
    (activity,) = activities(client, seeker)
    assert activity["kind"] == "application" and "Boulangerie Dupont" in activity["description"]
    assert activity["occurred_at"].startswith("2026-12-01T14:30:00")
    assert (activity["organisation"], activity["channel"]) == ("Boulangerie Dupont", "job_board")
    actions = sorted(e["action"] for e in audit_entries(rt, subject=seeker.subject_id) if "from_channel" in e["action"])
    assert actions == ["dossier:activities:record_from_channel", "dossier:contacts:record_from_channel"]
    assert NATIONAL_ID not in caplog.text and "85073003328" not in caplog.text


def test_a_call_is_a_contact_the_assigned_advisor_reads(client, rt, seeker, callcentre, make_person) -> None:
    advisor = make_person(Role.ADVISOR)
    accounts.assign_seeker(rt, advisor.username, seeker.username)
    call = {"national_id": "85073003328", "occurred_at": "2026-12-01T09:00:00+01:00", "summary": "Rappel pour un rendez-vous",
            "direction": "outbound"}
    assert callcentre.post(CALLS, call).get_json() == {"status": "recorded"}
    dossier = client.get(base(seeker) + "/dossier", headers=advisor.auth).get_json()
    assert [c["channel"] for c in dossier["contacts"]] == ["call_centre"]
    assert "outbound call" in dossier["contacts"][0]["summary"]


def test_the_application_is_the_advisors_to_read_only_under_the_activity_consent(client, rt, seeker, jobboard,
                                                                                 make_person) -> None:
    advisor = make_person(Role.ADVISOR)
    accounts.assign_seeker(rt, advisor.username, seeker.username)
    assert jobboard.post(RESPONSES, RESPONSE).status_code == 202
    refused = client.get(base(seeker) + "/activities", headers=advisor.auth)
    assert refused.status_code == 403 and "Boulangerie" not in refused.get_data(as_text=True)
    grant(client, seeker, "activity.advisor_access")
    (activity,) = client.get(base(seeker) + "/activities", headers=advisor.auth).get_json()
    assert activity["kind"] == "application"


def test_the_sender_learns_only_recorded_or_no_match(client, rt, seeker, jobboard, make_person) -> None:
    twin = make_person(Role.SEEKER)  # two seekers share an e-mail address: no one seeker is named
    identity = {"name": "B", "email": "shared@example.org", "phone": None, "national_id": None, "birth_date": None, "address": None}
    for person in (seeker, twin):
        assert client.put(base(person) + "/identity", json=identity, headers=person.auth).status_code == 200
    before = {k: v for k, v in database_rows(rt).items() if k != "channel_deliveries"}
    for named in ({"email": "shared@example.org"}, {"email": "nobody@example.org"}, {"national_id": "00.01.01-001.95"}):
        message = {**{k: v for k, v in RESPONSE.items() if k != "national_id"}, **named}
        answer = jobboard.post(RESPONSES, message)
        assert (answer.status_code, answer.get_json()) == (202, {"status": "no_match"})
    assert {k: v for k, v in database_rows(rt).items() if k != "channel_deliveries"} == before


def test_an_erased_seeker_is_no_match(client, rt, seeker, callcentre) -> None:
    assert client.delete(base(seeker), headers=seeker.auth).status_code in (200, 204)
    call = {"national_id": NATIONAL_ID, "occurred_at": "2026-12-01T09:00:00+01:00", "summary": "Après l'effacement"}
    assert callcentre.post(CALLS, call).get_json() == {"status": "no_match"}


def test_the_integrations_are_in_the_register_and_the_openapi_document(client, make_person) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert CALLS in paths and RESPONSES in paths
    operation = paths[CALLS]["post"]
    assert {"400", "409", "413", "422"} <= set(operation["responses"])
    names = {p["name"] for p in client.get("/api/v1/plugins", headers=make_person(Role.ADMIN).auth).get_json()}
    assert {"callcentre", "jobboard"} <= names


def test_a_seeker_cannot_use_a_channel(client, seeker) -> None:
    assert client.post(CALLS, json={}, headers=seeker.auth).status_code == 403



"""Job-search activities as the seeker records them: the employer or organisation, the occupation,
how, and what came of it, set when known and changed later; sealed like every field."""

from __future__ import annotations

from typing import Any

import pytest

from core.identity import accounts
from core.identity.roles import Role
from tests.acceptance.test_at_rest import raw_database_bytes
from tests.conftest import Person
from tests.plugins.helpers import audit_entries, base, grant

APPLICATION = {"kind": "application", "occurred_at": "2026-11-03T10:00:00+01:00", "description": "Candidature spontanée",
               "organisation": "Qxorg Soudure SPRL", "occupation": "occ.welder", "channel": "email", "outcome": "pending"}


def record(client: Any, seeker: Person, activity: dict[str, Any]) -> Any:
    return client.post(base(seeker) + "/activities", json=activity, headers=seeker.auth)


def test_an_activity_keeps_its_organisation_occupation_channel_and_outcome(client, rt, seeker) -> None:
    made = record(client, seeker, APPLICATION)
    assert made.status_code == 201, made.get_json()
    assert {k: made.get_json()[k] for k in ("organisation", "occupation", "channel", "outcome")} == {
        "organisation": "Qxorg Soudure SPRL", "occupation": "occ.welder", "channel": "email", "outcome": "pending"}
    (listed,) = client.get(base(seeker) + "/activities", headers=seeker.auth).get_json()
    assert listed["organisation"] == "Qxorg Soudure SPRL"
    assert b"Qxorg Soudure" not in raw_database_bytes(rt)  # sealed like every field


def test_the_older_form_still_records(client, seeker) -> None:
    made = record(client, seeker, {k: APPLICATION[k] for k in ("kind", "occurred_at", "description")})
    assert made.status_code == 201 and made.get_json()["organisation"] is None and made.get_json()["outcome"] is None


@pytest.mark.parametrize("change", [{"occupation": "occ.astronaut"}, {"channel": "pigeon"}, {"outcome": "maybe"},
                                    {"organisation": ""}])
def test_unknown_codes_and_values_are_422_and_record_nothing(client, rt, seeker, change) -> None:
    before = len(audit_entries(rt))
    response = record(client, seeker, {**APPLICATION, **change})
    assert (response.status_code, response.mimetype) == (422, "application/problem+json")
    assert client.get(base(seeker) + "/activities", headers=seeker.auth).get_json() == []
    assert len(audit_entries(rt)) == before + 1  # the listing just above, nothing from the refused write


def test_the_seeker_sets_the_outcome_later(client, rt, seeker) -> None:
    activity = record(client, seeker, APPLICATION).get_json()
    path = f"{base(seeker)}/activities/{activity['id']}"
    changed = client.patch(path, json={"outcome": "interview"}, headers=seeker.auth)
    assert changed.status_code == 200 and changed.get_json()["outcome"] == "interview"
    assert changed.get_json()["organisation"] == "Qxorg Soudure SPRL"  # the rest as it was
    assert client.patch(path, json={"outcome": None}, headers=seeker.auth).get_json()["outcome"] is None
    assert client.patch(path, json={"outcome": "maybe"}, headers=seeker.auth).status_code == 422
    assert client.patch(path, json={"description": "autre"}, headers=seeker.auth).status_code == 422
    missing = client.patch(f"{base(seeker)}/activities/00000000-0000-4000-8000-000000000000", json={"outcome": "hired"},
                           headers=seeker.auth)
    assert missing.status_code == 404


def test_only_the_seeker_sets_an_outcome(client, rt, seeker, make_person) -> None:
    activity = record(client, seeker, APPLICATION).get_json()
    advisor = make_person(Role.ADVISOR)
    accounts.assign_seeker(rt, advisor.username, seeker.username)
    grant(client, seeker, "activity.advisor_access")
    path = f"{base(seeker)}/activities/{activity['id']}"
    assert client.patch(path, json={"outcome": "hired"}, headers=advisor.auth).status_code == 403
    other = make_person(Role.SEEKER)
    assert client.patch(path, json={"outcome": "hired"}, headers=other.auth).status_code == 404
    assert client.patch(f"{base(other)}/activities/{activity['id']}", json={"outcome": "hired"},
                        headers=other.auth).status_code == 404  # another dossier's activity is not found in one's own
    assert client.get(base(seeker) + "/activities", headers=seeker.auth).get_json()[0]["outcome"] == "pending"

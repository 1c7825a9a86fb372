"""The single dossier through the HTTP API: identity, profile, provenance, contacts, activities."""

from __future__ import annotations

import pytest

from core.identity.roles import Role
from tests.conftest import Person

IDENTITY = {
    "name": "Zoé Exemple", "email": "zoe@example.org", "phone": "+32 470 12 34 56", "national_id": "85.07.30-033.28",
    "birth_date": "1985-07-30", "address": {"street": "Rue Haute 5", "postal_code": "4000", "city": "Liège"},
}


def base(person: Person) -> str:
    return f"/api/v1/seekers/{person.subject_id}"


def test_identity_round_trip_normalises_the_national_id(client, seeker: Person) -> None:
    response = client.put(base(seeker) + "/identity", json=IDENTITY, headers=seeker.auth)
    assert response.status_code == 200
    identity = client.get(base(seeker) + "/dossier", headers=seeker.auth).get_json()["identity"]
    assert identity["national_id"] == "85073003328"
    assert identity["address"] == {"street": "Rue Haute 5", "postal_code": "4000", "city": "Liège", "country": "BE"}


def test_a_national_id_belongs_to_one_dossier(client, make_person, seeker: Person) -> None:
    other = make_person(Role.SEEKER)
    assert client.put(base(seeker) + "/identity", json=IDENTITY, headers=seeker.auth).status_code == 200
    response = client.put(base(other) + "/identity", json=IDENTITY, headers=other.auth)
    assert response.status_code == 409
    assert client.get(base(other) + "/dossier", headers=other.auth).get_json()["identity"]["name"] is None


@pytest.mark.parametrize(
    "change",
    [
        {"national_id": "85.07.30-033.29"},  # wrong check digits
        {"email": "not-an-email"},
        {"birth_date": "2999-01-01"},
        {"phone": "call me"},
        {"address": {"street": "x", "postal_code": "4000"}},
        {"nickname": "unknown field"},
    ],
)
def test_bad_identity_is_refused_and_changes_nothing(client, seeker: Person, change) -> None:
    assert client.put(base(seeker) + "/identity", json=IDENTITY, headers=seeker.auth).status_code == 200
    before = client.get(base(seeker) + "/dossier", headers=seeker.auth).get_json()
    response = client.put(base(seeker) + "/identity", json={**IDENTITY, **change}, headers=seeker.auth)
    assert response.status_code == 422
    problem = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert problem["type"].endswith("/validation-error") and problem["status"] == 422
    assert set(problem["errors"]) <= set(IDENTITY) | {"nickname"}
    if "nickname" in change:  # an unknown field is named: the caller's own word for a field
        assert problem["errors"] == {"nickname": ["Champ inconnu / unknown field."]}
    assert client.get(base(seeker) + "/dossier", headers=seeker.auth).get_json() == before


def test_an_unknown_field_whose_name_could_carry_a_value_is_counted_not_named(client, seeker: Person) -> None:
    odd = {"marie.exemple@example.org": 1, "Marie Exemple": 2, "nickname": 3}
    response = client.put(base(seeker) + "/identity", json={**IDENTITY, **odd}, headers=seeker.auth)
    errors = response.get_json()["errors"]
    assert response.status_code == 422 and errors["nickname"] == ["Champ inconnu / unknown field."]
    assert errors["_unknown_fields"] == ["2 champ(s) inconnu(s) au nom non affiché / unknown field(s), name not shown"]
    assert "example.org" not in response.get_data(as_text=True) and "Marie" not in response.get_data(as_text=True)


def test_profile_patch_keeps_provenance_and_validation(client, seeker: Person, advisor: Person) -> None:
    response = client.patch(base(seeker) + "/profile", headers=seeker.auth, json={
        "occupations": ["occ.welder"], "skills": ["skill.tig-welding"], "languages": [{"code": "nl", "level": "B2"}],
        "postal_code": "4000", "mobility_radius_km": 25, "available_from": "2027-01-04", "licences": ["B", "CE"],
        "contract_types": ["permanent"], "working_time": ["full_time"],
        "education": [{"title": "CESS", "year": 2005}], "experience": [{"title": "Soudeur", "occupation": "occ.welder"}],
    })
    assert response.status_code == 200, response.get_json()
    profile = response.get_json()
    assert profile["provenance"]["skills"]["source"] == "seeker"
    validated = client.post(base(seeker) + "/profile/validations", headers=advisor.auth,
                            json={"field": "skills", "evidence": "Attestation de formation TIG"})
    assert validated.status_code == 201
    assert validated.get_json()["validated_by"] == advisor.id
    # Resending the same value keeps the validation; changing it makes it a declaration again.
    again = client.patch(base(seeker) + "/profile", headers=seeker.auth, json={"skills": ["skill.tig-welding"]}).get_json()
    assert again["provenance"]["skills"]["source"] == "advisor"
    changed = client.patch(base(seeker) + "/profile", headers=seeker.auth,
                           json={"skills": ["skill.tig-welding", "skill.mig-mag-welding"]}).get_json()
    assert changed["provenance"]["skills"]["source"] == "seeker"
    assert changed["postal_code"] == "4000"
    cleared = client.patch(base(seeker) + "/profile", headers=seeker.auth, json={"postal_code": None}).get_json()
    assert "postal_code" not in cleared


def test_validating_an_empty_field_is_refused(client, seeker: Person, advisor: Person) -> None:
    response = client.post(base(seeker) + "/profile/validations", headers=advisor.auth, json={"field": "skills", "evidence": "x"})
    assert response.status_code == 422


def test_profile_accepts_only_known_codes(client, seeker: Person) -> None:
    response = client.patch(base(seeker) + "/profile", headers=seeker.auth,
                            json={"occupations": ["occ.astronaut"], "skills": ["skill.tig-welding"]})
    assert response.status_code == 422
    assert "occupations" in response.get_json()["errors"]
    assert "skills" not in client.get(base(seeker) + "/dossier", headers=seeker.auth).get_json()["profile"]


@pytest.mark.parametrize("body", [{}, {"postal_code": 4000}, {"languages": [{"code": "fr", "level": "Z9"}]}, {"licences": ["Q"]}])
def test_bad_profile_input_is_refused(client, seeker: Person, body) -> None:
    assert client.patch(base(seeker) + "/profile", headers=seeker.auth, json=body).status_code == 422


def test_contacts_and_activities_are_recorded_and_listed(client, seeker: Person, advisor: Person) -> None:
    for channel in ("in_person", "phone", "call_centre", "email", "web", "job_offer_response", "company_visit"):
        response = client.post(base(seeker) + "/contacts", headers=advisor.auth,
                               json={"channel": channel, "occurred_at": "2026-11-20T10:00:00+01:00", "summary": f"via {channel}"})
        assert response.status_code == 201
    for kind in ("application", "training", "interview", "other"):
        response = client.post(base(seeker) + "/activities", headers=seeker.auth,
                               json={"kind": kind, "occurred_at": "2026-11-21T09:00:00+01:00", "description": kind})
        assert response.status_code == 201
    dossier = client.get(base(seeker) + "/dossier", headers=seeker.auth).get_json()
    assert len(dossier["contacts"]) == 7 and len(dossier["activities"]) == 4
    assert dossier["withheld"] == []
    listed = client.get(base(seeker) + "/activities", headers=seeker.auth).get_json()
    assert sorted(a["kind"] for a in listed) == ["application", "interview", "other", "training"]


@pytest.mark.parametrize("body", [
    {"channel": "pigeon", "occurred_at": "2026-11-20T10:00:00+01:00", "summary": "x"},
    {"channel": "phone", "occurred_at": "2026-11-20T10:00:00", "summary": "x"},  # no time zone
    {"channel": "phone", "occurred_at": "2026-11-20T10:00:00+01:00", "summary": ""},
])
def test_bad_contacts_are_refused(client, seeker: Person, advisor: Person, body) -> None:
    assert client.post(base(seeker) + "/contacts", headers=advisor.auth, json=body).status_code == 422
    assert client.get(base(seeker) + "/dossier", headers=advisor.auth).get_json()["contacts"] == []


def test_the_advisor_sees_activities_withheld_for_want_of_consent(client, seeker: Person, advisor: Person) -> None:
    client.post(base(seeker) + "/activities", headers=seeker.auth,
                json={"kind": "training", "occurred_at": "2026-11-21T09:00:00+01:00", "description": "Formation"})
    dossier = client.get(base(seeker) + "/dossier", headers=advisor.auth).get_json()
    assert "activities" not in dossier
    assert {"section": "activities", "reason": "consent_required", "consent": "activity.advisor_access"} in dossier["withheld"]
    response = client.get(base(seeker) + "/activities", headers=advisor.auth)
    assert response.status_code == 403 and response.get_json()["consent"] == "activity.advisor_access"


def test_export_holds_everything_about_the_seeker(client, seeker: Person, advisor: Person) -> None:
    client.put(base(seeker) + "/identity", json=IDENTITY, headers=seeker.auth)
    client.patch(base(seeker) + "/profile", headers=seeker.auth, json={"postal_code": "4000"})
    client.post(base(seeker) + "/contacts", headers=advisor.auth,
                json={"channel": "phone", "occurred_at": "2026-11-20T10:00:00+01:00", "summary": "s"})
    response = client.get(base(seeker) + "/export", headers=seeker.auth)
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    export = response.get_json()
    assert export["format"] == "dossier-export/1"
    assert export["identity"]["email"] == "zoe@example.org"
    assert export["profile"]["postal_code"] == "4000"
    assert len(export["contacts"]) == 1
    assert export["assigned_advisors"] == [advisor.id]
    assert export["account"]["username"] == seeker.username
    assert export["consents"] == []
    client.post(base(seeker) + "/publication", headers=seeker.auth)
    export = client.get(base(seeker) + "/export", headers=seeker.auth).get_json()
    assert sorted(c["purpose"] for c in export["consents"]) == ["activity.advisor_access", "profile.matching"]
    assert all(c["receipt_jws"].count(".") == 2 for c in export["consents"])


def test_malformed_bodies_get_problems(client, seeker: Person) -> None:
    url = base(seeker) + "/identity"
    r = client.put(url, data="{not json", headers={**seeker.auth, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.mimetype == "application/problem+json"
    r = client.put(url, data="name=x", headers={**seeker.auth, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    r = client.put(url, json=["a list"], headers=seeker.auth)
    assert r.status_code == 422
    r = client.put(url, data=b"{" + b" " * (2 * 1024 * 1024) + b"}", headers={**seeker.auth, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.mimetype == "application/problem+json"


def test_unknown_routes_and_methods_are_problems(client, seeker: Person) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    r = client.post("/healthz")
    assert r.status_code == 405 and r.mimetype == "application/problem+json" and "GET" in r.headers["Allow"]


def test_problems_speak_french_first_and_english_on_request(client) -> None:
    assert client.get("/api/v1/me").get_json()["title"] == "Authentification requise"
    english = client.get("/api/v1/me", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_json()
    assert english["title"] == "Authentication required"

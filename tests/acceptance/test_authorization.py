"""Object-level authorisation on every endpoint that takes a subject (invariant 4).

Unauthenticated callers get 401; callers with no relation to the subject get 404 (its existence
is not revealed); related callers without the right get 403; and a refused request changes nothing.
"""

from __future__ import annotations

import uuid

import pytest

from core.identity.roles import Role
from tests.conftest import Person

IDENTITY = {"name": "Nom Test", "email": "n@example.org", "phone": None, "national_id": None, "birth_date": None, "address": None}
CONTACT = {"channel": "email", "occurred_at": "2026-11-20T10:00:00+01:00", "summary": "Courriel"}
ACTIVITY = {"kind": "application", "occurred_at": "2026-11-20T10:00:00+01:00", "description": "Candidature"}

# (method, path after /api/v1/seekers/{id}, body, roles allowed: "self" or "advisor" or "admin")
ENDPOINTS = [
    ("GET", "/dossier", None, {"self", "advisor"}),
    ("PUT", "/identity", IDENTITY, {"self", "advisor"}),
    ("PATCH", "/profile", {"postal_code": "4000"}, {"self"}),
    ("POST", "/profile/validations", {"field": "postal_code", "evidence": "Justificatif"}, {"advisor"}),
    ("POST", "/contacts", CONTACT, {"advisor"}),
    ("POST", "/activities", ACTIVITY, {"self"}),
    ("GET", "/activities", None, {"self"}),
    ("GET", "/export", None, {"self"}),
    ("DELETE", "", None, {"self", "admin"}),
]
IDS = [f"{m} {p or '/'}" for m, p, _, _ in ENDPOINTS]


def call(client, method: str, path: str, body, headers=None):  # type: ignore[no-untyped-def]
    return client.open(path, method=method, json=body, headers=headers or {})


@pytest.mark.parametrize(("method", "suffix", "body", "allowed"), ENDPOINTS, ids=IDS)
def test_without_a_token_every_endpoint_answers_401(client, seeker: Person, method, suffix, body, allowed) -> None:
    response = call(client, method, f"/api/v1/seekers/{seeker.subject_id}{suffix}", body)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith("/unauthenticated")


@pytest.mark.parametrize(("method", "suffix", "body", "allowed"), ENDPOINTS, ids=IDS)
@pytest.mark.parametrize("stranger", [Role.SEEKER, Role.ADVISOR, Role.EMPLOYER, Role.AUDITOR])
def test_unrelated_accounts_get_404(client, make_person, seeker: Person, method, suffix, body, allowed, stranger) -> None:
    other = make_person(stranger)
    response = call(client, method, f"/api/v1/seekers/{seeker.subject_id}{suffix}", body, other.auth)
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["type"].endswith("/not-found")


@pytest.mark.parametrize(("method", "suffix", "body", "allowed"), ENDPOINTS, ids=IDS)
def test_unknown_and_malformed_subject_ids_get_404(client, seeker: Person, method, suffix, body, allowed) -> None:
    for subject in (str(uuid.uuid4()), "1", "not-a-uuid"):
        response = call(client, method, f"/api/v1/seekers/{subject}{suffix}", body, seeker.auth)
        assert response.status_code == 404


@pytest.mark.parametrize(("method", "suffix", "body", "allowed"), ENDPOINTS, ids=IDS)
def test_each_related_role_gets_exactly_its_rights(client, make_person, seeker: Person, advisor: Person,
                                                   method, suffix, body, allowed) -> None:
    admin = make_person(Role.ADMIN)
    client.patch(f"/api/v1/seekers/{seeker.subject_id}/profile", json={"postal_code": "4000"}, headers=seeker.auth)
    for who, person in (("self", seeker), ("advisor", advisor), ("admin", admin)):
        response = call(client, method, f"/api/v1/seekers/{seeker.subject_id}{suffix}", body, person.auth)
        if who in allowed:
            assert response.status_code in (200, 201, 204), (who, response.get_json())
            if method == "DELETE":
                return  # the subject is gone; later callers have nothing to compare
        elif who == "advisor" and suffix == "/activities" and method == "GET":
            assert response.status_code == 403
            assert response.get_json()["type"].endswith("/consent-required")
        else:
            assert response.status_code == 403, (who, response.get_json())
            assert response.get_json()["type"].endswith("/forbidden")


def test_a_refused_write_changes_nothing(client, make_person, seeker: Person, advisor: Person) -> None:
    base = f"/api/v1/seekers/{seeker.subject_id}"
    assert client.put(base + "/identity", json=IDENTITY, headers=seeker.auth).status_code == 200
    before = client.get(base + "/dossier", headers=seeker.auth).get_json()
    stranger = make_person(Role.ADVISOR)
    assert client.put(base + "/identity", json={**IDENTITY, "name": "Intrus"}, headers=stranger.auth).status_code == 404
    assert client.post(base + "/contacts", json=CONTACT, headers=seeker.auth).status_code == 403
    assert client.patch(base + "/profile", json={"postal_code": "1000"}, headers=advisor.auth).status_code == 403
    assert client.get(base + "/dossier", headers=seeker.auth).get_json() == before


def test_seekers_cannot_reach_each_other(client, make_person, seeker: Person) -> None:
    other = make_person(Role.SEEKER)
    assert client.get(f"/api/v1/seekers/{other.subject_id}/dossier", headers=seeker.auth).status_code == 404
    assert client.get(f"/api/v1/seekers/{seeker.subject_id}/dossier", headers=other.auth).status_code == 404


def test_identifiers_are_random_uuids(client, seeker: Person, advisor: Person) -> None:
    base = f"/api/v1/seekers/{seeker.subject_id}"
    ids = [client.post(base + "/contacts", json=CONTACT, headers=advisor.auth).get_json()["id"] for _ in range(3)]
    for value in [*ids, seeker.subject_id, seeker.id]:
        assert uuid.UUID(value).version == 4


def test_lookup_by_national_id_is_limited_to_the_caseload(client, make_person, seeker: Person, advisor: Person) -> None:
    identity = {**IDENTITY, "national_id": "85.07.30-033.28"}
    assert client.put(f"/api/v1/seekers/{seeker.subject_id}/identity", json=identity, headers=seeker.auth).status_code == 200
    found = client.post("/api/v1/seekers/lookup", json={"national_id": "85073003328"}, headers=advisor.auth)
    assert found.get_json() == {"subject_ids": [seeker.subject_id]}
    other_advisor = make_person(Role.ADVISOR)
    assert client.post("/api/v1/seekers/lookup", json={"national_id": "85073003328"},
                       headers=other_advisor.auth).get_json() == {"subject_ids": []}
    admin = make_person(Role.ADMIN)
    assert client.post("/api/v1/seekers/lookup", json={"email": "N@example.org"},
                       headers=admin.auth).get_json() == {"subject_ids": [seeker.subject_id]}
    assert client.post("/api/v1/seekers/lookup", json={"email": "n@example.org"}, headers=seeker.auth).status_code == 403


CONSENT_AND_LOG = [
    ("GET", "/consents", None), ("POST", "/consents", {"purpose": "profile.matching", "notice_version": 1}),
    ("DELETE", "/consents/profile.matching", None), ("POST", "/publication", None), ("DELETE", "/publication", None),
    ("GET", "/consents/receipts", None), ("GET", "/access-log", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), [e[:3] for e in ENDPOINTS] + CONSENT_AND_LOG,
                         ids=IDS + [f"{m} {p}" for m, p, _ in CONSENT_AND_LOG])
def test_a_closed_account_is_refused_everywhere_at_once(client, rt, seeker: Person, advisor: Person, method, suffix, body) -> None:
    from sqlalchemy import update

    from core.models import accounts, utcnow

    with rt.engine.begin() as conn:
        conn.execute(update(accounts).where(accounts.c.id.in_([seeker.id, advisor.id])).values(disabled_at=utcnow()))
    for person in (seeker, advisor):
        response = call(client, method, f"/api/v1/seekers/{seeker.subject_id}{suffix}", body, person.auth)
        assert response.status_code == 401, (person.role, response.get_json())


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/purposes", "/api/v1/taxonomy/skills", "/api/v1/audit/entries",
                                  "/api/v1/audit/checkpoint"])
def test_a_closed_account_is_refused_on_every_other_endpoint(client, rt, make_person, path: str) -> None:
    from sqlalchemy import update

    from core.models import accounts, utcnow

    auditor = make_person(Role.AUDITOR)
    assert client.get(path, headers=auditor.auth).status_code == 200
    with rt.engine.begin() as conn:
        conn.execute(update(accounts).where(accounts.c.id == auditor.id).values(disabled_at=utcnow()))
    assert client.get(path, headers=auditor.auth).status_code == 401

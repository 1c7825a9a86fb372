"""Consents through the HTTP API: catalogue, grant, withdraw, publication, receipts, enforcement."""

from __future__ import annotations

import base64
import json

import pytest
from joserfc.jwk import KeySet

from consent.receipts import InvalidReceipt, verify_receipt
from core.identity.roles import Role
from tests.conftest import Person

ACTIVITY = {"kind": "training", "occurred_at": "2026-11-21T09:00:00+01:00", "description": "Formation cariste"}


def base(person: Person) -> str:
    return f"/api/v1/seekers/{person.subject_id}"


def states(client, seeker: Person) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    response = client.get(base(seeker) + "/consents", headers=seeker.auth)
    assert response.status_code == 200
    return {item["purpose"]: item for item in response.get_json()}


def grant(client, seeker: Person, purpose: str, version: int = 1, headers=None, **extra):  # type: ignore[no-untyped-def]
    return client.post(base(seeker) + "/consents", json={"purpose": purpose, "notice_version": version, **extra},
                       headers=headers or seeker.auth)


def test_the_catalogue_names_bases_categories_and_notices(client, seeker: Person) -> None:
    catalogue = {p["purpose"]: p for p in client.get("/api/v1/purposes", headers=seeker.auth).get_json()}
    assert catalogue["dossier.public_task"]["legal_basis"] == "public_task"
    assert catalogue["profile.matching"]["legal_basis"] == "consent" and catalogue["profile.matching"]["seeker_controlled"]
    assert "identity.name" not in catalogue["profile.matching"]["categories"]
    assert catalogue["activity.advisor_access"]["categories"] == ["activity.applications", "activity.interviews",
                                                                 "activity.other", "activity.trainings"]
    assert catalogue["employer.contact"]["seeker_controlled"] is False
    for entry in catalogue.values():
        assert entry["notice"]["fr"] and entry["notice"]["en"] and len(entry["notice_sha256"]) == 64
        assert entry["retention_days"] > 0 and entry["notice_version"] >= 1


def test_consents_start_as_never(client, seeker: Person) -> None:
    assert {p: s["state"] for p, s in states(client, seeker).items()} == {
        "activity.advisor_access": "never", "profile.matching": "never"}


def test_grant_then_withdraw_gates_the_advisors_reading_of_activities(client, seeker: Person, advisor: Person) -> None:
    client.post(base(seeker) + "/activities", json=ACTIVITY, headers=seeker.auth)
    assert client.get(base(seeker) + "/activities", headers=advisor.auth).status_code == 403
    response = grant(client, seeker, "activity.advisor_access")
    assert response.status_code == 201, response.get_json()
    receipt = response.get_json()
    assert receipt["state"] == "granted" and receipt["purpose"] == "activity.advisor_access"
    assert [a["description"] for a in client.get(base(seeker) + "/activities", headers=advisor.auth).get_json()] == ["Formation cariste"]
    dossier = client.get(base(seeker) + "/dossier", headers=advisor.auth).get_json()
    assert len(dossier["activities"]) == 1 and {w["section"] for w in dossier["withheld"]} == {"profile"}
    withdrawn = client.delete(base(seeker) + "/consents/activity.advisor_access", headers=seeker.auth)
    assert withdrawn.status_code == 200 and withdrawn.get_json()["state"] == "withdrawn"
    refused = client.get(base(seeker) + "/activities", headers=advisor.auth)
    assert refused.status_code == 403 and refused.get_json()["type"].endswith("/consent-required")
    state = states(client, seeker)["activity.advisor_access"]
    assert state["state"] == "withdrawn" and state["granted_at"] and state["withdrawn_at"]


def test_publication_grants_both_and_each_can_be_withdrawn_alone(client, seeker: Person, advisor: Person) -> None:
    published = client.post(base(seeker) + "/publication", headers=seeker.auth)
    assert published.status_code == 201
    assert sorted(r["purpose"] for r in published.get_json()) == ["activity.advisor_access", "profile.matching"]
    assert {s["state"] for s in states(client, seeker).values()} == {"granted"}
    assert client.delete(base(seeker) + "/consents/profile.matching", headers=seeker.auth).status_code == 200
    current = states(client, seeker)
    assert current["profile.matching"]["state"] == "withdrawn" and current["activity.advisor_access"]["state"] == "granted"
    assert client.get(base(seeker) + "/activities", headers=advisor.auth).status_code == 200
    unpublished = client.delete(base(seeker) + "/publication", headers=seeker.auth)
    assert unpublished.status_code == 200 and [r["purpose"] for r in unpublished.get_json()] == ["activity.advisor_access"]
    assert {s["state"] for s in states(client, seeker).values()} == {"withdrawn"}
    assert client.delete(base(seeker) + "/publication", headers=seeker.auth).status_code == 409


def test_a_wrong_notice_version_is_refused_and_changes_nothing(client, seeker: Person) -> None:
    for version, status in ((2, 409), (0, 422), ("1", 422)):
        response = grant(client, seeker, "profile.matching", version)
        assert response.status_code == status, response.get_json()
        assert response.mimetype == "application/problem+json"
    assert states(client, seeker)["profile.matching"]["state"] == "never"
    assert client.get(base(seeker) + "/consents/receipts", headers=seeker.auth).get_json() == []


@pytest.mark.parametrize("purpose", ["dossier.public_task", "statistics", "employer.contact", "made.up"])
def test_only_seeker_controlled_purposes_can_be_granted(client, seeker: Person, purpose: str) -> None:
    assert grant(client, seeker, purpose).status_code == 422


def test_withdrawing_what_was_never_given_is_a_conflict(client, seeker: Person) -> None:
    assert client.delete(base(seeker) + "/consents/profile.matching", headers=seeker.auth).status_code == 409


def test_receipts_verify_with_the_published_key_and_fail_when_a_byte_changes(client, seeker: Person) -> None:
    token = grant(client, seeker, "profile.matching").get_json()["jws"]
    jwks = client.get("/.well-known/jwks.json").get_json()
    keys = KeySet.import_key_set({"keys": [k for k in jwks["keys"] if k["dossier_use"] == "receipt"]})
    payload = verify_receipt(token, keys)
    assert payload["purpose"] == "profile.matching" and payload["subject_ref"] == seeker.subject_id
    for field in ("receipt_id", "timestamp", "controller", "categories", "legal_basis", "notice", "state", "expires_at"):
        assert field in payload
    assert len(payload["notice"]["sha256"]) == 64
    header, body, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=="))
    raw[raw.index(b"granted")] ^= 0x01
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(InvalidReceipt):
        verify_receipt(f"{header}.{tampered}.{signature}", keys)
    other = KeySet.import_key_set({"keys": [k for k in jwks["keys"] if k["dossier_use"] == "token"]})
    with pytest.raises(InvalidReceipt):
        verify_receipt(token, other)


def test_the_seeker_lists_and_downloads_receipts(client, seeker: Person) -> None:
    grant(client, seeker, "profile.matching")
    client.delete(base(seeker) + "/consents/profile.matching", headers=seeker.auth)
    listed = client.get(base(seeker) + "/consents/receipts", headers=seeker.auth).get_json()
    assert [r["state"] for r in listed] == ["granted", "withdrawn"]
    one = client.get(base(seeker) + f"/consents/receipts/{listed[1]['receipt_id']}", headers=seeker.auth)
    assert one.status_code == 200 and one.get_json()["state"] == "withdrawn"
    assert "attachment" in one.headers["Content-Disposition"]


def test_an_advisor_records_a_consent_given_in_person_only_as_the_seekers_act(client, seeker: Person, advisor: Person) -> None:
    assert grant(client, seeker, "activity.advisor_access", headers=advisor.auth).status_code == 422  # web: not theirs
    response = grant(client, seeker, "activity.advisor_access", headers=advisor.auth, channel="in_person")
    assert response.status_code == 201
    receipt = response.get_json()
    assert receipt["collection_method"] == "in_person"
    assert receipt["recorded_by"] == {"role": "advisor", "account": advisor.id}
    assert states(client, seeker)["activity.advisor_access"]["channel"] == "in_person"


@pytest.mark.parametrize("role", [Role.SEEKER, Role.ADVISOR, Role.EMPLOYER, Role.AUDITOR, Role.ADMIN])
def test_unrelated_accounts_get_404_on_every_consent_endpoint(client, make_person, seeker: Person, role: Role) -> None:
    other = make_person(role)
    calls = [
        ("GET", "/consents", None), ("POST", "/consents", {"purpose": "profile.matching", "notice_version": 1, "channel": "in_person"}),
        ("DELETE", "/consents/profile.matching?channel=in_person", None), ("POST", "/publication", {"channel": "in_person"}),
        ("DELETE", "/publication?channel=in_person", None), ("GET", "/consents/receipts", None),
    ]
    for method, path, body in calls:
        response = client.open(base(seeker) + path, method=method, json=body, headers=other.auth)
        expected = 403 if role is Role.ADMIN else 404
        assert response.status_code == expected, (method, path, response.get_json())


def test_the_assigned_advisor_reads_states_but_not_receipts(client, seeker: Person, advisor: Person) -> None:
    assert client.get(base(seeker) + "/consents", headers=advisor.auth).status_code == 200
    assert client.get(base(seeker) + "/consents/receipts", headers=advisor.auth).status_code == 403


def test_a_consent_expires(client, rt, seeker: Person, advisor: Person) -> None:
    from datetime import timedelta

    from core.models import utcnow

    client.post(base(seeker) + "/activities", json=ACTIVITY, headers=seeker.auth)
    expires = (utcnow() + timedelta(hours=1)).isoformat()
    assert grant(client, seeker, "activity.advisor_access", expires_at=expires).status_code == 201
    assert client.get(base(seeker) + "/activities", headers=advisor.auth).status_code == 200
    rt.clock = lambda: utcnow() + timedelta(hours=2)
    assert client.get(base(seeker) + "/activities", headers=advisor.auth).status_code == 403
    assert states(client, seeker)["activity.advisor_access"]["state"] == "expired"
    past = (utcnow() - timedelta(hours=5)).isoformat()
    assert grant(client, seeker, "activity.advisor_access", expires_at=past).status_code == 422


def test_a_material_notice_change_asks_again(client, rt, seeker: Person, advisor: Person, cli) -> None:
    client.post(base(seeker) + "/activities", json=ACTIVITY, headers=seeker.auth)
    grant(client, seeker, "activity.advisor_access")
    minor = cli("purposes", "notice", "activity.advisor_access", "--fr", "Texte clarifié.", "--en", "Clarified text.")
    assert minor.exit_code == 0, minor.output
    state = states(client, seeker)["activity.advisor_access"]
    assert (state["notice_version"], state["current_notice_version"], state["reconsent_required"]) == (1, 2, False)
    assert client.get(base(seeker) + "/activities", headers=advisor.auth).status_code == 200
    material = cli("purposes", "notice", "activity.advisor_access", "--fr", "Nouveau texte.", "--en", "New text.", "--material")
    assert material.exit_code == 0
    state = states(client, seeker)["activity.advisor_access"]
    assert state["reconsent_required"] is True and state["current_notice_version"] == 3
    assert client.get(base(seeker) + "/activities", headers=advisor.auth).status_code == 403
    assert grant(client, seeker, "activity.advisor_access", 1).status_code == 409
    assert grant(client, seeker, "activity.advisor_access", 3).status_code == 201
    assert client.get(base(seeker) + "/activities", headers=advisor.auth).status_code == 200
    receipts = client.get(base(seeker) + "/consents/receipts", headers=seeker.auth).get_json()
    hashes = {json.loads(base64.urlsafe_b64decode(r["jws"].split(".")[1] + "=="))["notice"]["sha256"] for r in receipts}
    assert len(hashes) == 2

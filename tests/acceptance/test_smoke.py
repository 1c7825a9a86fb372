"""A first end-to-end pass over the dossier API."""

from __future__ import annotations

from tests.conftest import Person


def test_seeker_writes_and_advisor_reads_identity_and_contacts(client, seeker: Person, advisor: Person) -> None:
    sid = seeker.subject_id
    r = client.put(f"/api/v1/seekers/{sid}/identity", headers=seeker.auth, json={
        "name": "Zoé Marqueur", "email": "zoe@example.org", "phone": "+32 470 12 34 56",
        "national_id": "85.07.30-033.28", "birth_date": "1985-07-30",
        "address": {"street": "Rue Haute 5", "postal_code": "4000", "city": "Liège"},
    })
    assert r.status_code == 200, r.get_json()
    r = client.post(f"/api/v1/seekers/{sid}/contacts", headers=advisor.auth, json={
        "channel": "phone", "occurred_at": "2026-11-20T10:00:00+01:00", "summary": "Appel de suivi"})
    assert r.status_code == 201, r.get_json()
    r = client.get(f"/api/v1/seekers/{sid}/dossier", headers=advisor.auth)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["identity"]["name"] == "Zoé Marqueur"
    assert [c["summary"] for c in body["contacts"]] == ["Appel de suivi"]
    assert "profile" not in body and "activities" not in body
    assert {w["section"] for w in body["withheld"]} == {"profile", "activities"}

"""An advisor lists their own caseload: the seekers and employers assigned to them, and no one else's."""

from __future__ import annotations

from core.identity import accounts
from core.identity.roles import Role
from tests.conftest import Person


def test_an_advisor_sees_their_own_seekers_and_employers(client, rt, seeker: Person, advisor: Person, make_person) -> None:
    employer = accounts.create_employer(rt, "Chantiers Exemple SA")
    accounts.assign_employer(rt, advisor.username, employer["id"])
    colleague = make_person(Role.ADVISOR)
    accounts.assign_seeker(rt, colleague.username, make_person(Role.SEEKER).username)
    body = client.get("/api/v1/caseload", headers=advisor.auth).get_json()
    assert [(s["subject_id"], s["username"]) for s in body["seekers"]] == [(seeker.subject_id, seeker.username)]
    assert [(e["employer_id"], e["name"]) for e in body["employers"]] == [(employer["id"], "Chantiers Exemple SA")]
    assert body["seekers"][0]["assigned_at"].endswith("+00:00")
    assert client.get("/api/v1/caseload", headers=colleague.auth).get_json()["employers"] == []


def test_only_advisors_have_a_caseload(client, seeker: Person, make_person) -> None:
    for person in (seeker, make_person(Role.AUDITOR), make_person(Role.EMPLOYER)):
        response = client.get("/api/v1/caseload", headers=person.auth)
        assert response.status_code == 403 and response.mimetype == "application/problem+json"
    assert client.get("/api/v1/caseload").status_code == 401


def test_each_seeker_listed_is_a_decision_the_seeker_can_read(client, seeker: Person, advisor: Person) -> None:
    assert client.get("/api/v1/caseload", headers=advisor.auth).status_code == 200
    log = client.get(f"/api/v1/seekers/{seeker.subject_id}/access-log", headers=seeker.auth).get_json()["entries"]
    listed = [e for e in log if e["action"] == "dossier:caseload:read"]
    assert [(e["actor_role"], e["decision"], e["purpose"], e["categories"]) for e in listed] == [
        ("advisor", "allow", "dossier.public_task", [])]

"""Contact requests, double opt-in: the employer asks, the seeker decides, and only an acceptance
gives that employer the name and contact details, with a consent receipt; every step audited."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from audit.models import audit_leaves, audit_queue
from consent.receipts import verify_receipt
from core.contact_requests.models import contact_requests
from core.identity import accounts
from core.identity.roles import Role
from core.identity.signing import KeyUse
from tests.matching.test_search import BRICKLAYER, MARKER, base, publish, search

MESSAGE = "Bonjour, un poste de maçon à Liège vous intéresserait-il ?"


@pytest.fixture
def employer(make_person: Any) -> Any:
    return make_person(Role.EMPLOYER)


@pytest.fixture
def candidate(client: Any, make_person: Any) -> Any:
    person = make_person(Role.SEEKER)
    publish(client, person)
    return person


@pytest.fixture
def ref(client: Any, employer: Any, candidate: Any) -> str:
    (card,) = search(client, employer, occupation=BRICKLAYER)["candidates"]
    return str(card["candidate_ref"])


def ask(client: Any, employer: Any, ref: str, status: int = 201, message: str = MESSAGE) -> dict[str, Any]:
    response = client.post(f"/api/v1/employers/{employer.employer_id}/contact-requests",
                           json={"candidate_ref": ref, "message": message}, headers=employer.auth)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def employer_view(client: Any, employer: Any, request_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/employers/{employer.employer_id}/contact-requests/{request_id}", headers=employer.auth)
    assert response.status_code == 200
    return response.get_json()


def answer(client: Any, candidate: Any, request_id: str, verb: str, status: int = 200) -> dict[str, Any]:
    response = client.post(base(candidate) + f"/contact-requests/{request_id}/{verb}", headers=candidate.auth)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def test_the_employer_learns_who_it_is_only_once_the_seeker_accepts(client, rt, employer, candidate, ref) -> None:
    sent = ask(client, employer, ref)
    assert sent["state"] == "pending" and sent["candidate_ref"] == ref
    pending = employer_view(client, employer, sent["id"])
    assert "name" not in pending and "contact" not in pending and MARKER not in json.dumps(pending)
    (request,) = client.get(base(candidate) + "/contact-requests", headers=candidate.auth).get_json()
    assert request["message"] == MESSAGE and request["employer_name"] == f"Employer of {employer.username}"
    assert "candidate_ref" not in request
    decided = answer(client, candidate, sent["id"], "accept")
    assert decided["request"]["state"] == "accepted"
    receipt = verify_receipt(decided["receipt"]["jws"], rt.signing.public_keyset(KeyUse.RECEIPT))
    assert receipt["purpose"] == "employer.contact" and receipt["state"] == "granted"
    assert receipt["contact_request"] == sent["id"] and employer.employer_id in receipt["recipients"][0]
    accepted = employer_view(client, employer, sent["id"])
    assert accepted["name"].startswith(MARKER) and accepted["contact"]["email"].startswith(MARKER.lower())
    log = client.get(base(candidate) + "/access-log", headers=candidate.auth).get_json()
    actions = [e["action"] for e in log["entries"]]
    assert "matching:contact_request:send" in actions and "matching:contact_request:decide" in actions
    details = [e for e in log["entries"] if e["action"] == "dossier:contact_details:read"]
    assert len(details) == 1 and details[0]["purpose"] == "employer.contact"
    assert details[0]["categories"] == ["identity.contact", "identity.name"]


def test_a_refused_or_withdrawn_acceptance_reveals_nothing(client, make_person, employer, candidate, ref) -> None:
    sent = ask(client, employer, ref)
    answer(client, candidate, sent["id"], "refuse")
    refused = employer_view(client, employer, sent["id"])
    assert refused["state"] == "refused" and "name" not in refused
    answer(client, candidate, sent["id"], "accept", status=409)
    again = ask(client, employer, ref)  # a refused request is not open: the employer may ask again
    answer(client, candidate, again["id"], "accept")
    assert "name" in employer_view(client, employer, again["id"])
    withdrawn = answer(client, candidate, again["id"], "withdraw")
    assert withdrawn["request"]["state"] == "withdrawn" and withdrawn["receipt"]["state"] == "withdrawn"
    assert "name" not in employer_view(client, employer, again["id"])


def test_one_open_request_per_candidate_and_a_daily_limit(client, rt, make_person, employer, candidate, ref) -> None:
    ask(client, employer, ref)
    problem = ask(client, employer, ref, status=409)
    assert problem["type"].endswith("/conflict")
    limit = rt.settings.CONTACT_REQUESTS_PER_DAY
    others = [make_person(Role.SEEKER) for _ in range(limit)]
    for person in others:
        publish(client, person)
    cards = search(client, employer, occupation=BRICKLAYER, limit=100)["candidates"]
    fresh = [c["candidate_ref"] for c in cards if c["candidate_ref"] != ref]
    for candidate_ref in fresh[: limit - 1]:
        ask(client, employer, candidate_ref)
    flood = ask(client, employer, fresh[limit - 1], status=429)
    assert flood["type"].endswith("/too-many-requests")


def test_a_pending_request_expires(client, rt, employer, candidate, ref) -> None:
    sent = ask(client, employer, ref)
    with rt.engine.begin() as conn:
        conn.execute(contact_requests.update().values(expires_at=rt.clock() - timedelta(seconds=1)))
    assert employer_view(client, employer, sent["id"])["state"] == "expired"
    assert answer(client, candidate, sent["id"], "accept", status=409)["state"] == "expired"
    ask(client, employer, ref)  # an expired request is not open any more


def test_unknown_refs_and_unpublished_candidates_are_404_and_bad_bodies_422(client, rt, employer, candidate, ref) -> None:
    ask(client, employer, "0" * 32, status=404)
    ask(client, employer, ref, status=422, message="")
    ask(client, employer, "not-a-ref", status=422)
    assert client.delete(base(candidate) + "/publication", headers=candidate.auth).status_code == 200
    with rt.engine.connect() as conn:
        before = len(conn.execute(select(contact_requests)).all())
    ask(client, employer, ref, status=404)  # unpublished since: the employer learns nothing of why
    with rt.engine.connect() as conn:
        assert len(conn.execute(select(contact_requests)).all()) == before


def test_nobody_else_reads_or_answers_a_request(client, rt, make_person, employer, candidate, ref) -> None:
    sent = ask(client, employer, ref)
    answer(client, candidate, sent["id"], "accept")
    rival, stranger = make_person(Role.EMPLOYER), make_person(Role.SEEKER)
    url = f"/api/v1/employers/{employer.employer_id}/contact-requests"
    assert client.get(f"{url}/{sent['id']}", headers=rival.auth).status_code == 404
    assert client.get(url, headers=rival.auth).status_code == 404
    assert client.post(base(stranger) + f"/contact-requests/{sent['id']}/refuse", headers=stranger.auth).status_code == 404
    assert client.post(base(candidate) + f"/contact-requests/{sent['id']}/refuse", headers=stranger.auth).status_code == 404
    assert client.get(base(candidate) + "/contact-requests", headers=employer.auth).status_code == 404
    # The rival's own ref for the candidate differs, and another employer's ref is unknown to it.
    assert client.post(url.replace(employer.employer_id, rival.employer_id), json={"candidate_ref": ref, "message": "x"},
                       headers=rival.auth).status_code == 404


def test_the_employers_advisor_sees_its_requests_without_identities(client, rt, make_person, employer, candidate, ref) -> None:
    sent = ask(client, employer, ref)
    answer(client, candidate, sent["id"], "accept")
    advisor, other = make_person(Role.ADVISOR), make_person(Role.ADVISOR)
    accounts.assign_employer(rt, advisor.username, employer.employer_id)
    url = f"/api/v1/employers/{employer.employer_id}/contact-requests"
    (seen,) = client.get(url, headers=advisor.auth).get_json()
    assert seen["state"] == "accepted" and "name" not in seen and "message" not in seen
    assert MARKER not in json.dumps(seen)
    assert client.get(url, headers=other.auth).status_code == 404
    assert client.get(f"{url}/{sent['id']}", headers=advisor.auth).status_code == 403


def test_erasure_removes_the_requests(client, rt, employer, candidate, ref) -> None:
    ask(client, employer, ref)
    assert client.delete(base(candidate), headers=candidate.auth).status_code == 204
    with rt.engine.connect() as conn:
        assert conn.execute(select(contact_requests)).all() == []


def test_a_refused_send_commits_its_audit_entry_and_nothing_else(client, rt, employer, candidate, ref) -> None:
    assert client.delete(base(candidate) + "/publication", headers=candidate.auth).status_code == 200
    with rt.engine.connect() as conn:
        before = len(conn.execute(select(audit_queue)).all()) + len(conn.execute(select(audit_leaves)).all())
    ask(client, employer, ref, status=404)
    with rt.engine.connect() as conn:
        after = len(conn.execute(select(audit_queue)).all()) + len(conn.execute(select(audit_leaves)).all())
    assert after == before + 1

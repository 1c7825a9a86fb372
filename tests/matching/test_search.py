""""Je cherche un candidat": employers search published profiles, through the built-in matching plugin.

Against the real app (its built-in plugin, its store and change feed, the decision point and the
audit log), on SQLite and PostgreSQL. Each test publishes seekers through the API and searches as
an employer's user would.
"""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any

import pytest
from sqlalchemy import select

from audit.models import audit_leaves, audit_queue
from core.app import create_app
from core.identity import accounts
from core.identity.roles import Role
from core.runtime import runtime
from core.search.models import employer_searches, search_appearances
from plugins.api import Manifest, Purged, hookimpl

BRICKLAYER, NURSE = "occ.bricklayer", "occ.nurse"  # the nurse shares nothing with the bricklayer
BRICKS, MORTAR, DRAWINGS = "skill.bricklaying", "skill.mix-mortar-concrete", "skill.read-technical-drawings"
MARKER = "Qx7MarkerIdentity"
PROFILE = {"occupations": [BRICKLAYER], "skills": [BRICKS, MORTAR], "languages": [{"code": "fr", "level": "native"}],
           "postal_code": "4000", "mobility_radius_km": 40, "licences": ["B"], "contract_types": ["permanent"],
           "experience": [{"title": "Maçon", "occupation": BRICKLAYER, "employer": f"{MARKER} SA", "start": "2020-01-01",
                           "end": "2023-01-01", "description": f"chez {MARKER}"}]}


def base(person: Any) -> str:
    return f"/api/v1/seekers/{person.subject_id}"


_numbers = itertools.count(1)


def national_id() -> str:
    """A valid Belgian national register number, a new one each time (born in 1985)."""
    body = 850730000 + next(_numbers)
    return f"{body}{97 - body % 97:02d}"


def publish(client: Any, person: Any, profile: dict[str, Any] | None = None) -> None:
    identity = {"name": f"{MARKER} {person.username}", "email": f"{MARKER.lower()}.{person.username}@example.org",
                "phone": "+32 470 12 34 56", "national_id": national_id(), "birth_date": "1985-07-30",
                "address": {"street": f"Rue {MARKER} 1", "postal_code": "4000", "city": "Liège"}}
    assert client.put(base(person) + "/identity", json=identity, headers=person.auth).status_code == 200
    assert client.patch(base(person) + "/profile", json=profile or PROFILE, headers=person.auth).status_code == 200
    assert client.post(base(person) + "/publication", headers=person.auth).status_code == 201


def search(client: Any, employer: Any, status: int = 201, **criteria: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/employers/{employer.employer_id}/searches", json=criteria, headers=employer.auth)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


@pytest.fixture
def employer(make_person: Any) -> Any:
    return make_person(Role.EMPLOYER)


@pytest.fixture
def seekers(client: Any, make_person: Any) -> list[Any]:
    people = [make_person(Role.SEEKER) for _ in range(3)]
    for person in people:
        publish(client, person)
    return people


def test_a_published_seeker_is_found_with_an_explained_score(client, employer, seekers) -> None:
    found = search(client, employer, occupation=BRICKLAYER, skills={"required": [BRICKS], "preferred": [MORTAR, DRAWINGS]},
                   postal_code="4020", radius_km=30)
    assert found["total"] == 3 and len(found["candidates"]) == 3
    card = found["candidates"][0]
    assert card["occupations"] == [BRICKLAYER] and card["licences"] == ["B"] and card["distance_km"] is not None
    explained = {e["criterion"]: e for e in card["explanation"]}
    assert set(explained) == {"occupation", "required_skills", "preferred_skills", "distance", "experience"}
    assert explained["preferred_skills"]["matched"] and "1 compétence(s) souhaitée(s) sur 2" in explained["preferred_skills"]["fr"]
    assert "1 of 2 preferred skills" in explained["preferred_skills"]["en"]
    assert sum(e["points"] for e in card["explanation"]) == pytest.approx(card["score"], abs=0.05)
    assert [c["rank"] for c in found["candidates"]] == [1, 2, 3]


def test_no_identity_field_subject_id_or_pseudonym_is_in_a_result(client, rt, employer, seekers, gateway) -> None:
    activity = {"kind": "application", "occurred_at": "2026-11-20T10:00:00+01:00", "description": f"{MARKER} activity"}
    assert client.post(base(seekers[0]) + "/activities", json=activity, headers=seekers[0].auth).status_code == 201
    body = json.dumps(search(client, employer, occupation=BRICKLAYER))
    assert MARKER not in body and MARKER.lower() not in body
    assert "8507300" not in body and "1985-07-30" not in body and "470 12 34 56" not in body
    for person in seekers:
        assert person.subject_id not in body
        assert gateway.pseudonym("matching", person.subject_id) not in body


def test_refs_differ_between_employers_and_stay_for_one(client, make_person, employer, seekers) -> None:
    other = make_person(Role.EMPLOYER)
    mine = {c["candidate_ref"] for c in search(client, employer, occupation=BRICKLAYER)["candidates"]}
    again = {c["candidate_ref"] for c in search(client, employer, occupation=BRICKLAYER)["candidates"]}
    theirs = {c["candidate_ref"] for c in search(client, other, occupation=BRICKLAYER)["candidates"]}
    assert mine == again and len(mine) == 3 and not mine & theirs


def test_an_unpublished_or_withdrawn_seeker_is_never_returned(client, make_person, employer, seekers) -> None:
    hidden = make_person(Role.SEEKER)
    assert client.patch(base(hidden) + "/profile", json=PROFILE, headers=hidden.auth).status_code == 200  # never published
    assert search(client, employer, occupation=BRICKLAYER)["total"] == 3
    assert client.delete(base(seekers[0]) + "/publication", headers=seekers[0].auth).status_code == 200
    found = search(client, employer, occupation=BRICKLAYER)
    assert found["total"] == 2 and len(found["candidates"]) == 2
    withdrawn = client.delete(base(seekers[1]) + "/consents/profile.matching", headers=seekers[1].auth)
    assert withdrawn.status_code == 200
    assert search(client, employer, occupation=BRICKLAYER)["total"] == 1


def test_an_erased_seeker_is_never_returned_and_their_appearances_go(client, rt, employer, seekers) -> None:
    search(client, employer, occupation=BRICKLAYER)
    assert client.delete(base(seekers[0]), headers=seekers[0].auth).status_code == 204
    assert search(client, employer, occupation=BRICKLAYER)["total"] == 2
    with rt.engine.connect() as conn:
        assert conn.execute(select(search_appearances).where(search_appearances.c.subject_id == seekers[0].subject_id)).all() == []


def test_a_profile_change_is_seen_by_the_next_search(client, employer, seekers) -> None:
    assert search(client, employer, occupation=NURSE)["total"] == 0
    assert client.patch(base(seekers[0]) + "/profile", json={"occupations": [NURSE]}, headers=seekers[0].auth).status_code == 200
    assert search(client, employer, occupation=NURSE, skills={"required": [BRICKS]})["total"] == 1


def test_the_seeker_reads_each_appearance_in_their_access_log(client, employer, seekers) -> None:
    search(client, employer, occupation=BRICKLAYER)
    log = client.get(base(seekers[0]) + "/access-log", headers=seekers[0].auth).get_json()
    shown = [e for e in log["entries"] if e["action"] == "matching:candidate:show"]
    assert len(shown) == 1
    assert shown[0]["actor_role"] == "employer" and shown[0]["actor"] == f"Employer of {employer.username}"
    assert shown[0]["purpose"] == "profile.matching" and shown[0]["decision"] == "allow"


def test_the_cards_are_decided_in_one_batch(client, rt, employer, seekers) -> None:
    statements: list[str] = []
    from sqlalchemy import event

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(rt.engine, "before_cursor_execute", count)
    try:
        search(client, employer, occupation=BRICKLAYER)
    finally:
        event.remove(rt.engine, "before_cursor_execute", count)
    queue_inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO AUDIT_QUEUE")]
    consent_reads = [s for s in statements if "consent" in s.lower() and "subjects" in s.lower()]
    assert len(queue_inserts) == 1  # one batched append for the three appearances
    assert len(consent_reads) >= 1


def test_another_employers_user_and_other_roles_get_404_or_403(client, make_person, employer, seekers) -> None:
    other = make_person(Role.EMPLOYER)
    url = f"/api/v1/employers/{employer.employer_id}/searches"
    assert client.post(url, json={"occupation": BRICKLAYER}, headers=other.auth).status_code == 404
    assert client.get(url, headers=other.auth).status_code == 404
    assert client.post(url, json={"occupation": BRICKLAYER}, headers=seekers[0].auth).status_code == 403
    mine = search(client, employer, occupation=BRICKLAYER)
    assert client.get(f"{url}/{mine['search_id']}", headers=other.auth).status_code == 404
    assert client.get(f"/api/v1/employers/{other.employer_id}/searches/{mine['search_id']}", headers=other.auth).status_code == 404


def test_an_employer_sees_its_own_past_searches(client, employer, seekers) -> None:
    first = search(client, employer, occupation=BRICKLAYER)
    search(client, employer, occupation=NURSE)
    past = client.get(f"/api/v1/employers/{employer.employer_id}/searches", headers=employer.auth).get_json()
    assert [(p["criteria"]["occupation"], p["total"], p["no_match"]) for p in past] == [(NURSE, 0, True), (BRICKLAYER, 3, False)]
    one = client.get(f"/api/v1/employers/{employer.employer_id}/searches/{first['search_id']}", headers=employer.auth)
    assert one.status_code == 200 and one.get_json()["shown"] == 3


@pytest.mark.parametrize("criteria", [
    {"occupation": "occ.astronaut"},
    {"occupation": BRICKLAYER, "skills": {"required": ["skill.nonexistent"]}},
    {"occupation": BRICKLAYER, "postal_code": "0999"},
    {"occupation": BRICKLAYER, "postal_code": "9999"},
    {"occupation": BRICKLAYER, "radius_km": 20},
    {"occupation": BRICKLAYER, "postal_code": "4000", "radius_km": 1000},
    {"occupation": BRICKLAYER, "languages": [{"code": "fr", "min_level": "Z9"}]},
    {"occupation": BRICKLAYER, "weights": {"charm": 3}},
    {"occupation": BRICKLAYER, "weights": {"occupation": 11}},
    {"occupation": BRICKLAYER, "limit": 0},
    {"occupation": BRICKLAYER, "licences": ["Z"]},
    {"occupation": BRICKLAYER, "available_by": "not a date"},
    {"skills": {"required": [], "preferred": []}},
    {"occupation": BRICKLAYER, "colour": "blue"},
])
def test_bad_criteria_are_a_clear_422_that_changes_nothing(client, rt, employer, seekers, criteria) -> None:
    with rt.engine.connect() as conn:
        before = (len(conn.execute(select(audit_queue)).all()) + len(conn.execute(select(audit_leaves)).all()),
                  len(conn.execute(select(employer_searches)).all()))
    response = client.post(f"/api/v1/employers/{employer.employer_id}/searches", json=criteria, headers=employer.auth)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    with rt.engine.connect() as conn:
        after = (len(conn.execute(select(audit_queue)).all()) + len(conn.execute(select(audit_leaves)).all()),
                 len(conn.execute(select(employer_searches)).all()))
    assert after == before


def test_filters_narrow_and_pages_split_the_total(client, make_person, employer, seekers) -> None:
    far = make_person(Role.SEEKER)
    publish(client, far, {**PROFILE, "postal_code": "8000", "mobility_radius_km": 200, "languages": [{"code": "nl", "level": "C1"}]})
    assert search(client, employer, occupation=BRICKLAYER)["total"] == 4
    assert search(client, employer, occupation=BRICKLAYER, postal_code="4000", radius_km=50)["total"] == 3
    assert search(client, employer, occupation=BRICKLAYER, languages=[{"code": "nl", "min_level": "B2"}])["total"] == 1
    assert search(client, employer, occupation=BRICKLAYER, licences=["C"])["total"] == 0
    pages = [search(client, employer, occupation=BRICKLAYER, limit=3, offset=offset) for offset in (0, 3)]
    assert [len(p["candidates"]) for p in pages] == [3, 1] and all(p["total"] == 4 for p in pages)
    refs = [c["candidate_ref"] for p in pages for c in p["candidates"]]
    assert len(set(refs)) == 4


def test_a_related_occupation_matches_more_weakly(client, make_person, employer, seekers, rt) -> None:
    from core.taxonomy.service import related_occupations

    with rt.engine.connect() as conn:
        related = related_occupations(conn, BRICKLAYER)
    if not related:
        pytest.skip("the default taxonomy relates no occupation to the bricklayer")
    code = next(iter(related))
    near = make_person(Role.SEEKER)
    publish(client, near, {**PROFILE, "occupations": [code], "experience": []})
    found = search(client, employer, occupation=BRICKLAYER)
    by_score = sorted(found["candidates"], key=lambda c: -c["score"])
    assert found["total"] == 4 and by_score[-1]["occupations"] == [code]
    (occupation,) = [e for e in by_score[-1]["explanation"] if e["criterion"] == "occupation"]
    assert occupation["value"] < 1.0 and "proche" in occupation["fr"]


def test_a_validated_field_weighs_more(client, rt, make_person, employer) -> None:
    declared, validated = make_person(Role.SEEKER), make_person(Role.SEEKER)
    for person in (declared, validated):
        publish(client, person, {"occupations": [BRICKLAYER], "skills": [BRICKS]})
    advisor = make_person(Role.ADVISOR)
    accounts.assign_seeker(rt, advisor.username, validated.username)
    response = client.post(base(validated) + "/profile/validations", json={"field": "skills", "evidence": "attestation"},
                           headers=advisor.auth)
    assert response.status_code == 201
    found = search(client, employer, occupation=BRICKLAYER, skills={"required": [BRICKS]})
    first, second = found["candidates"]
    assert first["score"] > second["score"] and first["validated"] == ["skills"]
    (skills,) = [e for e in first["explanation"] if e["criterion"] == "required_skills"]
    assert skills["validated"] is True


def test_validation_is_unknown_where_the_candidate_has_no_such_field(client, employer, make_person) -> None:
    bare = make_person(Role.SEEKER)
    publish(client, bare, {"occupations": [BRICKLAYER], "skills": [BRICKS]})
    found = search(client, employer, occupation=BRICKLAYER, skills={"preferred": [BRICKS]},
                   postal_code="4000")
    (card,) = found["candidates"]
    validated = {e["criterion"]: e["validated"] for e in card["explanation"]}
    # Declared occupation and skills: not validated; no postal code, no past job: nothing to validate.
    assert validated["occupation"] is False and validated["preferred_skills"] is False
    assert validated["distance"] is None and validated["experience"] is None


class SearchListener:
    """A plugin that hears employers' searches and seekers' answers, beside the built-in matching plugin."""

    def __init__(self) -> None:
        self.heard: list[Any] = []
        self.decided: list[Any] = []

    @hookimpl
    def dossier_manifest(self) -> Manifest:
        return Manifest("listener", "1.0", purposes=("profile.matching",), categories=("profile.occupations",),
                        events=("dossier_employer_search_performed", "dossier_contact_request_decided"))

    @hookimpl
    def dossier_employer_search_performed(self, search: Any) -> None:
        self.heard.append(search)

    @hookimpl
    def dossier_contact_request_decided(self, view: Any, decision: Any) -> None:
        self.decided.append((decision, dict(view)))

    @hookimpl
    def dossier_consent_withdrawn(self) -> Purged:
        return Purged()

    @hookimpl
    def dossier_subject_erased(self) -> Purged:
        return Purged()


def test_a_search_emits_its_event_with_criteria_and_count(app, instance, database_url, employer, seekers) -> None:
    listener = SearchListener()
    listening = create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": database_url, "TESTING": True,
                            "KEYRING_RELOAD_INTERVAL": 0.0, "PLUGIN_DISPATCH_INTERVAL": 0}, plugins=[listener])
    try:
        client = listening.test_client()
        found = search(client, employer, occupation=BRICKLAYER, skills={"preferred": [BRICKS]})
        search(client, employer, occupation=NURSE)
        ask = {"candidate_ref": found["candidates"][0]["candidate_ref"], "message": "Bonjour"}
        request = client.post(f"/api/v1/employers/{employer.employer_id}/contact-requests", json=ask, headers=employer.auth)
        assert request.status_code == 201
        shown = [p for p in seekers if client.get(base(p) + "/contact-requests", headers=p.auth).get_json()]
        (candidate,) = shown
        url = base(candidate) + f"/contact-requests/{request.get_json()['id']}/refuse"
        assert client.post(url, headers=candidate.auth).status_code == 200
    finally:
        runtime(listening).engine.dispose()
    ((decision, view),) = listener.decided
    assert (decision.request_id, decision.employer_id, decision.decision) == (request.get_json()["id"], employer.employer_id, "refused")
    assert set(view) == {"profile.occupations"}  # the profile the employer saw, never an identity category
    first, second = listener.heard
    assert (first.search_id, first.employer_id, first.match_count) == (found["search_id"], employer.employer_id, 3)
    assert first.criteria["occupation"] == BRICKLAYER and first.criteria["labels"][BRICKLAYER]["fr"]
    assert second.match_count == 0
    assert MARKER not in json.dumps([dict(first.criteria), dict(second.criteria)], default=dict)


def test_searches_while_withdrawals_run_never_return_a_withdrawn_seeker(client, make_person, employer) -> None:
    people = [make_person(Role.SEEKER) for _ in range(6)]
    for person in people:
        publish(client, person)
    withdrawn: set[str] = set()
    problems: list[str] = []

    def withdraw() -> None:
        for person in people[:3]:
            assert client.delete(base(person) + "/publication", headers=person.auth).status_code == 200
            withdrawn.add(person.subject_id)

    thread = threading.Thread(target=withdraw)
    thread.start()
    while thread.is_alive():
        gone_before = set(withdrawn)
        found = search(client, employer, occupation=BRICKLAYER, limit=100)
        if found["total"] > 6 - len(gone_before):
            problems.append(f"total {found['total']} with {len(gone_before)} withdrawn")
    thread.join()
    assert problems == []
    assert search(client, employer, occupation=BRICKLAYER)["total"] == 3


def test_a_seeker_reads_why_they_were_shown_and_nothing_of_other_candidates(client, make_person, employer, seekers) -> None:
    found = search(client, employer, occupation=BRICKLAYER, skills={"preferred": [MORTAR, DRAWINGS]})
    mine = client.get(base(seekers[0]) + "/appearances", headers=seekers[0].auth)
    assert mine.status_code == 200
    (appearance,) = mine.get_json()
    assert appearance["search_id"] == found["search_id"] and appearance["employer_name"] == f"Employer of {employer.username}"
    shown = {c["rank"]: c for c in found["candidates"]}[appearance["rank"]]
    assert appearance["score"] == shown["score"] and appearance["explanation"] == shown["explanation"]
    assert not any(c["candidate_ref"] in json.dumps(appearance) for c in found["candidates"])
    assert client.get(base(seekers[0]) + "/appearances", headers=seekers[1].auth).status_code == 404
    assert client.get(base(seekers[0]) + "/appearances", headers=employer.auth).status_code == 404

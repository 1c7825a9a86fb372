"""Employer alerts: each search by an employer alerts its advisors (what was sought, how many
matched, whether none did), grouped, in the advisor's inbox only, with a digest; never a candidate.

On SQLite and PostgreSQL, through the API and the built-in alerts plugin, with e-mail going to a
real SMTP server and webhooks to a real receiver (tests/alerts/receivers.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from audit.models import audit_queue
from core.delivery.models import alerts, deliveries
from core.delivery.worker import deliver_due
from core.identity import accounts
from core.identity.roles import Role
from core.plugins.worker import run_scheduled
from plugins.api import Alert, EmployerSearch
from tests.matching.test_search import BRICKLAYER, BRICKS, MARKER, NURSE, search

ALERTS = "/api/v1/alerts"


def inbox(client: Any, person: Any, **query: Any) -> dict[str, Any]:
    """The page of alerts (the contract's list) and its counts (from the headers)."""
    response = client.get(ALERTS, query_string=query, headers=person.auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    listed = response.get_json()
    assert isinstance(listed, list)
    return {"alerts": listed, "total": int(response.headers["X-Total-Count"]),
            "unread": int(response.headers["X-Unread-Count"])}


def test_a_search_alerts_the_employers_advisor_with_what_was_sought_and_how_many_matched(
        client, employer, employer_advisor, published) -> None:
    found = search(client, employer, occupation=BRICKLAYER, skills={"required": [BRICKS]})
    page = inbox(client, employer_advisor)
    assert page["total"] == 1 and page["unread"] == 1
    alert = page["alerts"][0]
    # The contract's fields.
    assert {"id", "kind", "employer_id", "created_at", "criteria", "match_count", "no_match"} <= set(alert)
    assert alert["kind"] == "employer_search" and alert["employer_id"] == employer.employer_id
    assert alert["match_count"] == found["total"] == 2 and alert["no_match"] is False
    assert alert["search_id"] == found["search_id"] and alert["occurrences"] == 1
    assert alert["criteria"]["occupation"] == BRICKLAYER and alert["criteria"]["skills"]["required"] == [BRICKS]
    assert alert["criteria"]["labels"][BRICKLAYER]["fr"]  # named, in both languages
    assert "Maçon" in alert["title"]["fr"] or "maçon" in alert["title"]["fr"].lower()
    assert alert["title"]["en"] and alert["text"]["en"] and alert["link"].endswith(f"/api/v1/alerts/{alert['id']}")
    assert datetime.fromisoformat(alert["created_at"]) <= datetime.now(UTC)
    # The link leads to the alert, and the advisor may read the search it names.
    assert client.get(f"{ALERTS}/{alert['id']}", headers=employer_advisor.auth).get_json()["id"] == alert["id"]
    past = client.get(f"/api/v1/employers/{employer.employer_id}/searches/{found['search_id']}", headers=employer_advisor.auth)
    assert past.status_code == 200 and past.get_json()["total"] == 2


def test_a_search_that_finds_no_one_is_an_alert_with_no_match(client, employer, employer_advisor, published) -> None:
    assert search(client, employer, occupation=NURSE)["total"] == 0
    alert = inbox(client, employer_advisor)["alerts"][0]
    assert alert["no_match"] is True and alert["match_count"] == 0
    assert "sans résultat" in alert["title"]["fr"] and "found no one" in alert["title"]["en"]
    assert inbox(client, employer_advisor, no_match="true")["total"] == 1
    assert inbox(client, employer_advisor, no_match="false")["total"] == 0


def test_no_other_advisor_sees_an_employers_alerts(client, make_person, rt, employer, employer_advisor, published) -> None:
    other_employer = make_person(Role.EMPLOYER)
    other = make_person(Role.ADVISOR)
    accounts.assign_employer(rt, other.username, other_employer.employer_id)
    search(client, employer, occupation=BRICKLAYER)
    alert_id = inbox(client, employer_advisor)["alerts"][0]["id"]
    assert inbox(client, other)["total"] == 0
    for method, path in (("GET", f"{ALERTS}/{alert_id}"), ("POST", f"{ALERTS}/{alert_id}/read"),
                         ("POST", f"{ALERTS}/{alert_id}/unread")):
        response = client.open(path, method=method, headers=other.auth)
        assert response.status_code == 404 and response.content_type == "application/problem+json"
    # Nor another role: the employer itself, a seeker.
    assert client.get(ALERTS, headers=employer.auth).status_code == 403
    assert client.get(ALERTS, headers=published[0].auth).status_code == 403
    # The advisor's alert is still unread: the other advisor's attempts changed nothing.
    assert inbox(client, employer_advisor)["unread"] == 1


def test_every_advisor_of_the_employer_gets_their_own_alert(client, make_person, rt, employer, employer_advisor, published) -> None:
    second = make_person(Role.ADVISOR)
    accounts.assign_employer(rt, second.username, employer.employer_id)
    search(client, employer, occupation=BRICKLAYER)
    first_alert, second_alert = inbox(client, employer_advisor)["alerts"][0], inbox(client, second)["alerts"][0]
    assert first_alert["id"] != second_alert["id"] and first_alert["search_id"] == second_alert["search_id"]
    client.post(f"{ALERTS}/{first_alert['id']}/read", headers=employer_advisor.auth)
    assert inbox(client, second)["unread"] == 1


def test_repeated_similar_searches_are_one_alert_with_a_count(client, employer, employer_advisor, published) -> None:
    for _ in range(3):
        search(client, employer, occupation=BRICKLAYER, skills={"required": [BRICKS]})
    page = inbox(client, employer_advisor)
    assert page["total"] == 1 and page["alerts"][0]["occurrences"] == 3
    alert_id = page["alerts"][0]["id"]
    client.post(f"{ALERTS}/{alert_id}/read", headers=employer_advisor.auth)
    assert inbox(client, employer_advisor)["unread"] == 0
    # The same again: unread again, still one alert.
    search(client, employer, occupation=BRICKLAYER, skills={"required": [BRICKS]})
    page = inbox(client, employer_advisor)
    assert page["total"] == 1 and page["unread"] == 1 and page["alerts"][0]["occurrences"] == 4
    # A different search, and one that found no one, are alerts of their own.
    search(client, employer, occupation=BRICKLAYER)
    search(client, employer, occupation=NURSE)
    assert inbox(client, employer_advisor)["total"] == 3


def test_grouping_ends_with_its_period(client, rt, employer, employer_advisor, published) -> None:
    search(client, employer, occupation=BRICKLAYER)
    later = datetime.now(UTC) + timedelta(minutes=61)  # the plugin's group_minutes is 60 by default
    rt.clock = lambda: later
    search(client, employer, occupation=BRICKLAYER)
    assert [a["occurrences"] for a in inbox(client, employer_advisor)["alerts"]] == [1, 1]


def test_read_unread_filters_and_pages(client, make_person, rt, employer, employer_advisor, published) -> None:
    other_employer = make_person(Role.EMPLOYER)
    accounts.assign_employer(rt, employer_advisor.username, other_employer.employer_id)
    search(client, employer, occupation=BRICKLAYER)
    search(client, employer, occupation=NURSE)
    search(client, other_employer, occupation=BRICKLAYER, skills={"required": [BRICKS]})
    page = inbox(client, employer_advisor)
    assert page["total"] == 3 and [a["kind"] for a in page["alerts"]] == ["employer_search"] * 3
    latest = page["alerts"][0]
    assert latest["employer_id"] == other_employer.employer_id  # the latest first
    read = client.post(f"{ALERTS}/{latest['id']}/read", headers=employer_advisor.auth).get_json()
    assert read["read"] is True and read["read_at"]
    assert inbox(client, employer_advisor, unread="true")["total"] == 2
    assert inbox(client, employer_advisor, unread="false")["total"] == 1
    assert inbox(client, employer_advisor, employer=employer.employer_id)["total"] == 2
    assert inbox(client, employer_advisor, employer=employer.employer_id, no_match="true")["total"] == 1
    first, second = inbox(client, employer_advisor, limit=2), inbox(client, employer_advisor, limit=2, offset=2)
    assert len(first["alerts"]) == 2 and len(second["alerts"]) == 1 and first["total"] == second["total"] == 3
    assert {a["id"] for a in first["alerts"]} | {a["id"] for a in second["alerts"]} == {a["id"] for a in page["alerts"]}
    unread = client.post(f"{ALERTS}/{latest['id']}/unread", headers=employer_advisor.auth).get_json()
    assert unread["read"] is False and inbox(client, employer_advisor)["unread"] == 3


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "1000"}, {"offset": "-1"}, {"employer": "not-a-uuid"},
                                   {"no_match": "perhaps"}, {"kind": "other"}, {"colour": "red"}])
def test_bad_alert_queries_get_a_clear_422(client, employer_advisor, query) -> None:
    response = client.get(ALERTS, query_string=query, headers=employer_advisor.auth)
    assert response.status_code == 422 and response.content_type == "application/problem+json"


def test_an_event_delivered_twice_alerts_once(client, rt, gateway, employer, employer_advisor, published) -> None:
    found = search(client, employer, occupation=BRICKLAYER)
    again = EmployerSearch(found["search_id"], employer.employer_id, {"occupation": BRICKLAYER}, found["total"], datetime.now(UTC))
    gateway.employer_search_performed(again)
    with rt.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(alerts)).scalar_one() == 1
    assert inbox(client, employer_advisor)["alerts"][0]["occurrences"] == 1


def test_a_search_with_no_advisor_assigned_alerts_no_one_and_succeeds(client, rt, make_person, published) -> None:
    lonely = make_person(Role.EMPLOYER)
    search(client, lonely, occupation=BRICKLAYER)
    with rt.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(alerts)).scalar_one() == 0


def test_each_alert_queued_is_an_audit_entry_naming_no_one(client, rt, employer, employer_advisor, published) -> None:
    search(client, employer, occupation=BRICKLAYER)
    with rt.engine.connect() as conn:
        entries = [json.loads(row.canonical) for row in conn.execute(select(audit_queue.c.canonical))]
    sent = [e for e in entries if e["action"] == "delivery:alert:send"]
    assert len(sent) == 1 and sent[0]["subject"] is None and sent[0]["actor"]["client"] == "plugin:alerts"
    assert sent[0]["reason"] == "employer_search:inbox+email"


def test_a_plugin_that_does_not_declare_alerts_cannot_send_one(gateway, employer_advisor) -> None:
    context = gateway.open_context("matching", None)
    try:
        with pytest.raises(ValueError, match="sends_alerts"):
            context.send_alert(Alert(employer_advisor.id, "employer_search", "k", "t", "t", "x", "x"))
    finally:
        context.end()


@pytest.mark.parametrize("change", [
    {"kind": "gossip"}, {"key": ""}, {"title_fr": ""}, {"text_en": "x" * 5000}, {"advisor": "00000000-0000-4000-8000-000000000000"},
    {"group_minutes": -1}, {"match_count": -3}, {"criteria": {"bad": object()}},
])
def test_an_alert_the_service_refuses_changes_nothing(rt, gateway, employer_advisor, change) -> None:
    context = gateway.open_context("alerts", None)
    fields = {"advisor": employer_advisor.id, "kind": "employer_search", "key": "refused", "title_fr": "Titre",
              "title_en": "Title", "text_fr": "Texte", "text_en": "Text", **change}
    try:
        with pytest.raises(ValueError):
            context.send_alert(Alert(**fields))
    finally:
        context.end()
    with rt.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(alerts)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar_one() == 0


# -- the digest --------------------------------------------------------------------------------


def test_a_daily_digest_lists_the_days_searches_no_match_first(client, rt, gateway, smtp, employer, employer_advisor,
                                                                published) -> None:
    search(client, employer, occupation=NURSE)
    search(client, employer, occupation=BRICKLAYER)
    deliver_due(rt)
    assert len(smtp.mails) == 2  # each alert by e-mail, the advisor's default
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=7, minute=0)
    rt.clock = lambda: tomorrow
    assert run_scheduled(rt, gateway, force=True) >= 1
    digests = inbox(client, employer_advisor, kind="digest")["alerts"]
    assert len(digests) == 1
    digest = digests[0]
    assert digest["no_match"] is True and digest["criteria"]["searches"] == 2 and digest["criteria"]["no_match"] == 1
    lines = digest["text"]["fr"].splitlines()[1:]
    assert "aucun résultat" in lines[0] and "profil" in lines[1]  # the search that found no one first
    assert "Synthèse quotidienne" in digest["title"]["fr"] and "Daily digest" in digest["title"]["en"]
    deliver_due(rt)
    assert len(smtp.mails) == 3 and "Synth" in smtp.mails[-1].message["Subject"]
    # Once: the next run sends nothing more.
    run_scheduled(rt, gateway, force=True)
    assert inbox(client, employer_advisor, kind="digest")["total"] == 1


def test_no_digest_before_the_hour_nor_for_an_advisor_who_wants_none(client, rt, gateway, make_person, employer,
                                                                      employer_advisor, published) -> None:
    search(client, employer, occupation=BRICKLAYER)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    rt.clock = lambda: tomorrow.replace(hour=3)  # before digest_hour (6 UTC)
    run_scheduled(rt, gateway, force=True)
    assert inbox(client, employer_advisor, kind="digest")["total"] == 0
    client.patch("/api/v1/me/alert-preferences", json={"digest": "none"}, headers=employer_advisor.auth)
    rt.clock = lambda: tomorrow.replace(hour=9)
    run_scheduled(rt, gateway, force=True)
    assert inbox(client, employer_advisor, kind="digest")["total"] == 0


def test_a_weekly_digest_comes_on_mondays(client, rt, gateway, employer, employer_advisor, published) -> None:
    client.patch("/api/v1/me/alert-preferences", json={"digest": "weekly"}, headers=employer_advisor.auth)
    search(client, employer, occupation=BRICKLAYER)
    today = datetime.now(UTC)
    monday = (today + timedelta(days=7 - today.weekday())).replace(hour=8)
    rt.clock = lambda: monday - timedelta(days=1)  # a Sunday: not yet
    run_scheduled(rt, gateway, force=True)
    assert inbox(client, employer_advisor, kind="digest")["total"] == 0
    rt.clock = lambda: monday
    run_scheduled(rt, gateway, force=True)
    digest = inbox(client, employer_advisor, kind="digest")["alerts"][0]
    assert "hebdomadaire" in digest["title"]["fr"] and "Weekly" in digest["title"]["en"]


# -- preferences -------------------------------------------------------------------------------


def test_an_advisor_sets_their_address_email_alerts_and_digest(client, employer_advisor, seeker) -> None:
    path = "/api/v1/me/alert-preferences"
    assert client.get(path, headers=employer_advisor.auth).get_json() == {
        "email": "conseillere.employeurs@forem.example", "email_alerts": True, "digest": "daily"}
    changed = client.patch(path, json={"email": "autre@forem.example", "email_alerts": False, "digest": "weekly"},
                           headers=employer_advisor.auth)
    assert changed.status_code == 200 and changed.get_json() == {"email": "autre@forem.example", "email_alerts": False,
                                                                 "digest": "weekly"}
    for bad in ({"email": "not an address"}, {"email": "a@b@c"}, {"digest": "hourly"}, {"email_alerts": "maybe"},
                {"email": "x@y.example\r\nBcc: z@evil.example"}, {"colour": "red"}):
        response = client.patch(path, json=bad, headers=employer_advisor.auth)
        assert response.status_code == 422 and response.content_type == "application/problem+json", bad
    assert client.get(path, headers=employer_advisor.auth).get_json()["email"] == "autre@forem.example"
    assert client.get(path, headers=seeker.auth).status_code == 403


def test_the_command_line_sets_an_advisors_address(cli, rt) -> None:
    added = cli("users", "add", "conseiller.cli", "--role", "advisor", "--email", "conseiller.cli@forem.example")
    assert added.exit_code == 0, added.output
    shown = cli("users", "alerts", "conseiller.cli", "--digest", "weekly", "--no-email-alerts")
    assert json.loads(shown.output) == {"email": "conseiller.cli@forem.example", "email_alerts": False, "digest": "weekly"}
    refused = cli("users", "add", "chercheur.cli", "--role", "seeker", "--email", "x@forem.example")
    assert refused.exit_code == 1 and "advisor" in refused.output and "Traceback" not in refused.output
    bad = cli("users", "add", "conseiller.bad", "--role", "advisor", "--email", "pas une adresse")
    assert bad.exit_code == 1 and "Traceback" not in bad.output


# -- nothing about a candidate, anywhere -------------------------------------------------------


def test_no_alert_email_or_webhook_carries_a_seeker(client, rt, cli, smtp, receiver, gateway, employer, employer_advisor,
                                                    published) -> None:
    assert cli("webhooks", "add", receiver.url).exit_code == 0
    found = search(client, employer, occupation=BRICKLAYER, skills={"required": [BRICKS]})
    search(client, employer, occupation=NURSE)
    deliver_due(rt)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=7)
    rt.clock = lambda: tomorrow
    run_scheduled(rt, gateway, force=True)
    deliver_due(rt)
    assert len(smtp.mails) == 3 and len(receiver.received) == 3
    forbidden = [MARKER, MARKER.lower()]
    forbidden += [c["candidate_ref"] for c in found["candidates"]]
    forbidden += [p.subject_id for p in published] + [gateway.pseudonym(name, p.subject_id) for p in published
                                                      for name in ("matching", "alerts")]
    forbidden += [p.username for p in published]
    delivered = [m.raw for m in smtp.mails] + [r.body for r in receiver.received]
    delivered += [json.dumps(r.headers).encode() for r in receiver.received]
    delivered.append(client.get(ALERTS, headers=employer_advisor.auth).get_data())
    delivered.append(client.get(ALERTS + "?kind=digest", headers=employer_advisor.auth).get_data())
    for body in delivered:
        for value in forbidden:
            assert value.encode() not in body

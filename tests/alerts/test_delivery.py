"""The delivery service: alerts leave by e-mail (a real SMTP server, STARTTLS and AUTH) and signed
webhooks (a real receiver that verifies the signature with the published key), at least once, on
the retry schedule, every attempt recorded; a 410 or a persistent failure disables an endpoint."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from core.delivery.models import deliveries, delivery_attempts
from core.delivery.worker import deliver_due
from tests.alerts.receivers import Received
from tests.matching.test_search import BRICKLAYER, NURSE, search


def webhook_keys(client: Any) -> list[Ed25519PublicKey]:
    """The Ed25519 keys the JWKS publishes for webhooks, as a receiver would read them."""
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]
    found = [k for k in keys if k.get("dossier_use") == "webhook"]
    assert found, "the JWKS publishes no webhook key"
    return [Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(k["x"] + "=" * (-len(k["x"]) % 4))) for k in found]


def verify_v1a(keys: list[Ed25519PublicKey], got: Received) -> bool:
    """Standard Webhooks v1a: an Ed25519 signature of id.timestamp.body, by any published key."""
    content = f"{got.headers['webhook-id']}.{got.headers['webhook-timestamp']}.".encode() + got.body
    for item in got.headers["webhook-signature"].split(" "):
        version, _, signature = item.partition(",")
        if version != "v1a":
            continue
        for key in keys:
            try:
                key.verify(base64.b64decode(signature), content)
                return True
            except InvalidSignature:
                continue
    return False


def add_endpoint(cli: Any, url: str, *options: str) -> dict[str, Any]:
    result = cli("webhooks", "add", url, *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def rows(rt: Any, table: Any) -> list[Any]:
    with rt.engine.connect() as conn:
        return list(conn.execute(select(table)))


def test_an_alert_is_emailed_to_the_advisor_in_french_then_english(client, rt, smtp, employer, employer_advisor,
                                                                    published) -> None:
    search(client, employer, occupation=NURSE)
    assert not smtp.mails  # queued in the outbox, sent by a worker's pass
    assert deliver_due(rt) == 1
    (mail,) = smtp.mails
    assert mail.recipients == ["conseillere.employeurs@forem.example"] and smtp.tls_used == [True]
    message = mail.message
    assert message["From"] == "alertes@forem.example" and message["Auto-Submitted"] == "auto-generated"
    assert "Recherche sans résultat" in message["Subject"] and "found no one" in message["Subject"]
    (delivery,) = rows(rt, deliveries)
    assert message["Message-ID"] == f"<{delivery.id}@forem.example>"  # stable: a second copy can be dropped
    text, page = message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()
    assert text.index("Aucun profil") < text.index("No published profile")  # French first
    assert '<section lang="fr">' in page and '<section lang="en">' in page and "/api/v1/alerts/" in page
    assert delivery.state == "delivered" and delivery.attempts == 1
    (attempt,) = rows(rt, delivery_attempts)
    assert attempt.succeeded and attempt.outcome == "smtp_250"


def test_no_email_without_an_address_or_when_the_advisor_declined(client, rt, smtp, employer, employer_advisor,
                                                                                 published) -> None:
    client.patch("/api/v1/me/alert-preferences", json={"email_alerts": False}, headers=employer_advisor.auth)
    search(client, employer, occupation=BRICKLAYER)
    client.patch("/api/v1/me/alert-preferences", json={"email_alerts": True, "email": None}, headers=employer_advisor.auth)
    search(client, employer, occupation=NURSE)
    deliver_due(rt)
    assert not smtp.mails and not rows(rt, deliveries)
    assert len(client.get("/api/v1/alerts", headers=employer_advisor.auth).get_json()) == 2  # the inbox has them


def test_a_refused_email_is_retried_then_failed_and_every_attempt_is_recorded(client, rt, smtp, employer, employer_advisor,
                                                                              published) -> None:
    smtp.refuse_with = "451 4.3.0 try again later"
    search(client, employer, occupation=BRICKLAYER)
    for _ in range(10):
        deliver_due(rt)
    (delivery,) = rows(rt, deliveries)
    # Once, then the three retries of this test's schedule.
    assert delivery.state == "failed" and delivery.attempts == 4 and delivery.last_outcome == "smtp_451"
    assert [a.number for a in rows(rt, delivery_attempts)] == [1, 2, 3, 4]
    smtp.refuse_with = "550 5.1.1 no such mailbox"
    search(client, employer, occupation=NURSE)
    deliver_due(rt)
    permanent = [d for d in rows(rt, deliveries) if d.id != delivery.id][0]
    assert permanent.state == "failed" and permanent.attempts == 1  # a 5xx is not retried


def test_a_webhook_is_signed_ed25519_with_the_published_key(client, rt, cli, receiver, employer, employer_advisor,
                                                            published) -> None:
    endpoint = add_endpoint(cli, receiver.url)
    assert set(endpoint) == {"id", "url", "signing"} and endpoint["signing"] == "ed25519"  # no secret to keep
    found = search(client, employer, occupation=BRICKLAYER)
    deliver_due(rt)
    (got,) = receiver.received
    assert verify_v1a(webhook_keys(client), got)
    (delivery,) = [d for d in rows(rt, deliveries) if d.channel == "webhook"]
    assert got.headers["webhook-id"] == delivery.id
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    body = json.loads(got.body)
    assert body["type"] == "alert.employer_search" and body["timestamp"].endswith("Z")
    data = body["data"]
    assert data["search_id"] == found["search_id"] and data["match_count"] == 2 and data["no_match"] is False
    assert data["employer_id"] == employer.employer_id and data["advisor_id"] == employer_advisor.id
    assert "criteria" not in data  # thin: references and counts
    # A body altered on the way no longer verifies.
    tampered = Received(got.headers, got.body.replace(b'"match_count":2', b'"match_count":3'), 0)
    assert not verify_v1a(webhook_keys(client), tampered)


def test_an_hmac_webhook_verifies_with_the_standard_webhooks_library(client, rt, cli, receiver, employer, employer_advisor,
                                                                     published) -> None:
    endpoint = add_endpoint(cli, receiver.url, "--hmac")
    assert endpoint["secret"].startswith("whsec_") and endpoint["signing"] == "hmac"
    search(client, employer, occupation=BRICKLAYER)
    deliver_due(rt)
    (got,) = receiver.received
    assert Webhook(endpoint["secret"]).verify(got.body, got.headers)["type"] == "alert.employer_search"
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"another secret of 32 bytes......").decode()).verify(got.body, got.headers)
    # A new secret: for a while both sign, so a receiver still on the old one keeps verifying.
    rotated = cli("webhooks", "rotate-secret", endpoint["id"])
    new_secret = json.loads(rotated.output)["secret"]
    assert new_secret != endpoint["secret"]
    search(client, employer, occupation=NURSE)
    deliver_due(rt)
    latest = receiver.received[-1]
    assert len(latest.headers["webhook-signature"].split(" ")) == 2
    Webhook(endpoint["secret"]).verify(latest.body, latest.headers)
    Webhook(new_secret).verify(latest.body, latest.headers)
    refused = cli("webhooks", "rotate-secret", add_endpoint(cli, receiver.url)["id"])
    assert refused.exit_code == 1 and "hmac" in refused.output


def test_nothing_is_lost_while_the_receiver_is_down(client, rt, cli, receiver, employer, employer_advisor, published) -> None:
    add_endpoint(cli, receiver.url)
    receiver.stop()
    search(client, employer, occupation=BRICKLAYER)
    deliver_due(rt)
    deliver_due(rt)
    (delivery,) = [d for d in rows(rt, deliveries) if d.channel == "webhook"]
    assert delivery.state == "pending" and delivery.attempts == 2 and delivery.last_outcome == "connect_error"
    receiver.start()  # back, on the same port
    deliver_due(rt)
    (delivery,) = [d for d in rows(rt, deliveries) if d.channel == "webhook"]
    assert delivery.state == "delivered" and len(receiver.received) == 1
    attempts = sorted((a.number, a.succeeded, a.outcome) for a in rows(rt, delivery_attempts) if a.delivery_id == delivery.id)
    assert attempts == [(1, False, "connect_error"), (2, False, "connect_error"), (3, True, "http_204")]


def test_retries_follow_the_schedule(client, rt, cli, receiver, employer, employer_advisor, published, monkeypatch) -> None:
    schedule = ("5", "300", "1800")
    monkeypatch.setattr(rt, "settings", dataclasses.replace(rt.settings, DELIVERY_RETRY_SCHEDULE=schedule))
    add_endpoint(cli, receiver.url)
    receiver.statuses = [503] * 10
    now = datetime.now(UTC)
    rt.clock = lambda: now
    search(client, employer, occupation=BRICKLAYER)
    waits = []
    for _ in range(len(schedule)):
        deliver_due(rt)
        (delivery,) = [d for d in rows(rt, deliveries) if d.channel == "webhook"]
        due = delivery.next_attempt_at if delivery.next_attempt_at.tzinfo else delivery.next_attempt_at.replace(tzinfo=UTC)
        waits.append(round((due - now).total_seconds()))
        assert deliver_due(rt) == 0  # not before it is due
        now = due
    assert waits == [5, 300, 1800]
    deliver_due(rt)
    (delivery,) = [d for d in rows(rt, deliveries) if d.channel == "webhook"]
    assert delivery.state == "failed" and delivery.attempts == 4 and len(receiver.received) == 4


def test_a_410_disables_the_endpoint_and_what_waits_for_it(client, rt, cli, receiver, employer, employer_advisor,
                                                           published) -> None:
    endpoint = add_endpoint(cli, receiver.url)
    receiver.statuses = [410]
    search(client, employer, occupation=BRICKLAYER)
    deliver_due(rt)
    listed = [json.loads(line) for line in cli("webhooks", "list").output.splitlines()]
    assert listed[0]["id"] == endpoint["id"] and listed[0]["enabled"] is False and listed[0]["disabled_reason"] == "gone_410"
    search(client, employer, occupation=NURSE)  # nothing is queued for a disabled endpoint
    deliver_due(rt)
    assert len(receiver.received) == 1
    overview = json.loads(cli("deliveries").output)
    assert overview["counts"]["failed"] == 1 and overview["endpoints"][0]["disabled_reason"] == "gone_410"
    failed = overview["deliveries"][0]
    assert failed["state"] == "failed" and failed["history"][0]["status_code"] == 410
    # Enabled again by an admin, the failed delivery can be retried.
    assert cli("deliveries", "retry", failed["id"]).exit_code == 1  # its endpoint is still disabled
    cli("webhooks", "enable", endpoint["id"])
    assert cli("deliveries", "retry", failed["id"]).exit_code == 0
    deliver_due(rt)
    assert len(receiver.received) == 2 and receiver.received[1].headers["webhook-id"] == failed["id"]


def test_an_endpoint_that_keeps_failing_is_disabled(client, rt, cli, receiver, employer, employer_advisor, published) -> None:
    add_endpoint(cli, receiver.url)
    receiver.statuses = [500] * 10
    search(client, employer, occupation=BRICKLAYER)
    for _ in range(6):
        deliver_due(rt)
    listed = json.loads(cli("webhooks", "list").output.splitlines()[0])
    assert listed["enabled"] is False and listed["disabled_reason"] == "retries_exhausted"


def test_admins_see_deliveries_over_http(client, rt, cli, make_person, receiver, employer, employer_advisor, published) -> None:
    from core.identity.roles import Role

    admin = make_person(Role.ADMIN)
    add_endpoint(cli, receiver.url)
    receiver.statuses = [503]
    search(client, employer, occupation=BRICKLAYER)
    deliver_due(rt)
    answer = client.get("/api/v1/deliveries", headers=admin.auth).get_json()
    assert answer["counts"]["pending"] == 1 and answer["deliveries"][0]["history"][0]["outcome"] == "http_503"
    assert client.get("/api/v1/deliveries", headers=employer_advisor.auth).status_code == 403
    assert client.get("/api/v1/deliveries?state=lost", headers=admin.auth).status_code == 422


@pytest.mark.parametrize("url", ["ftp://example.org/x", "https://", "https://user:pw@example.org/", "https://example.org/#x",
                                 "not a url", "https://example.org:99999/"])
def test_only_http_urls_can_be_registered(cli, rt, url) -> None:
    result = cli("webhooks", "add", url)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert cli("webhooks", "list").output == ""


def test_delivered_inline_when_the_interval_is_zero(client, rt, receiver, cli, employer, employer_advisor, published,
                                                    monkeypatch) -> None:
    monkeypatch.setattr(rt, "settings", dataclasses.replace(rt.settings, DELIVERY_INTERVAL=0.0))
    add_endpoint(cli, receiver.url)
    search(client, employer, occupation=BRICKLAYER)
    assert len(receiver.received) == 1  # sent before the search answered


def test_redirects_are_not_followed(client, rt, cli, receiver, employer, employer_advisor, published) -> None:
    receiver.statuses = [307] * 10
    add_endpoint(cli, receiver.url)
    search(client, employer, occupation=BRICKLAYER)
    deliver_due(rt)
    (delivery,) = [d for d in rows(rt, deliveries) if d.channel == "webhook"]
    assert delivery.state == "pending" and delivery.last_outcome == "http_307" and len(receiver.received) == 1


def test_the_lease_keeps_a_delivery_from_a_second_worker(client, rt, cli, receiver, employer, employer_advisor,
                                                         published) -> None:
    """A delivery claimed by one worker is not claimed by another until its lease runs out."""
    from core.delivery import store

    add_endpoint(cli, receiver.url)
    search(client, employer, occupation=BRICKLAYER)
    now = datetime.now(UTC)
    with rt.transaction() as conn:
        first = store.claim(conn, now, now + timedelta(seconds=60), 10)
    with rt.transaction() as conn:
        assert store.claim(conn, now, now + timedelta(seconds=60), 10) == []
    with rt.transaction() as conn:
        again = store.claim(conn, now + timedelta(seconds=61), now + timedelta(seconds=120), 10)
    assert [r.id for r in again] == [r.id for r in first]
    with rt.engine.connect() as conn:
        assert conn.execute(select(func.max(deliveries.c.attempts))).scalar_one() == 2

"""Inbound webhooks of the channel integrations, against the Standard Webhooks specification and
the idempotency-key draft: only a signed, fresh, well-formed message from the channel's own client
is recorded, and it is recorded once however often it is sent; every other message is refused with
a clear problem and leaves the database as it was."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta, UTC
from typing import Any

import pytest
from sqlalchemy import update

from core.identity.clients import disable_client, rotate_webhook_secret
from core.models import accounts
from core.plugins import idempotency
from tests.channels.conftest import CALLS, EMAIL, RESPONSES, contacts, database_rows
from tests.plugins.helpers import ChannelClient

CALL = {"email": EMAIL, "occurred_at": "2026-12-01T10:02:00+01:00", "summary": "Question sur l'inscription",
        "direction": "inbound", "duration_seconds": 380}


def body_of(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


def test_a_signed_call_becomes_a_contact_and_its_retry_is_answered_not_recorded(client, rt, seeker, callcentre) -> None:
    first = callcentre.post(CALLS, CALL, message_id="msg_call_1")
    assert (first.status_code, first.get_json()) == (202, {"status": "recorded"})
    assert "Idempotent-Replayed" not in first.headers
    after_first = database_rows(rt)
    again = callcentre.post(CALLS, CALL, message_id="msg_call_1")
    assert (again.status_code, again.get_json(), again.headers["Idempotent-Replayed"]) == (202, {"status": "recorded"}, "true")
    assert database_rows(rt) == after_first  # the retry wrote nothing, not even an audit entry
    (contact,) = contacts(client, seeker)
    assert contact["channel"] == "call_centre" and "Question sur l'inscription" in contact["summary"]
    assert "6 min" in contact["summary"] and "inbound call" in contact["summary"]


def test_the_idempotency_key_header_takes_precedence_over_the_webhook_id(client, rt, seeker, callcentre) -> None:
    key = {"Idempotency-Key": '"8e03978e-40d5-43e8-bc93-6894a57f9324"'}
    assert callcentre.post(CALLS, CALL, headers=key).status_code == 202
    replay = callcentre.post(CALLS, CALL, headers=key)  # a new webhook-id, the same key
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert len(contacts(client, seeker)) == 1


def test_a_captured_message_sent_again_under_a_new_idempotency_key_is_a_copy(client, rt, seeker, callcentre) -> None:
    """The signature covers the webhook-id, not the Idempotency-Key: a replay within the timestamp
    tolerance under a key of the attacker's choosing is still found by its webhook-id."""
    raw = body_of(CALL)
    headers = callcentre.headers(raw, message_id="msg_captured")
    first = client.post(CALLS, data=raw, headers={**headers, "Idempotency-Key": '"first"'})
    assert first.status_code == 202 and "Idempotent-Replayed" not in first.headers
    after_first = database_rows(rt)
    again = client.post(CALLS, data=raw, headers={**headers, "Idempotency-Key": '"chosen-by-an-attacker"'})
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (202, "true")
    bare = client.post(CALLS, data=raw, headers=headers)  # and without any Idempotency-Key
    assert bare.headers.get("Idempotent-Replayed") == "true"
    assert database_rows(rt) == after_first and len(contacts(client, seeker)) == 1


def test_a_reused_webhook_id_with_another_body_is_422(client, rt, seeker, callcentre) -> None:
    assert callcentre.post(CALLS, CALL, message_id="msg_twice", headers={"Idempotency-Key": '"a"'}).status_code == 202
    other = callcentre.post(CALLS, {**CALL, "summary": "Autre"}, message_id="msg_twice", headers={"Idempotency-Key": '"b"'})
    assert (other.status_code, other.get_json()["type"].rsplit("/", 1)[-1]) == (422, "idempotency-key-reused")


def test_a_reused_key_with_another_body_is_422_and_changes_nothing(client, rt, seeker, callcentre) -> None:
    assert callcentre.post(CALLS, CALL, message_id="msg_same").status_code == 202
    before = database_rows(rt)
    other = callcentre.post(CALLS, {**CALL, "summary": "Autre chose"}, message_id="msg_same")
    assert (other.status_code, other.mimetype) == (422, "application/problem+json")
    assert other.get_json()["type"].endswith("idempotency-key-reused")
    assert database_rows(rt) == before


def test_a_message_still_in_flight_is_409(client, rt, seeker, callcentre) -> None:
    raw = body_of(CALL)
    delivery = idempotency.Delivery(callcentre.client_id, "msg_busy", "msg_busy", "callcentre", "POST calls", _mac(rt, raw))
    assert idempotency.claim(rt, delivery, stale_after=timedelta(minutes=1)) is None  # another worker holds it
    response = callcentre.post(CALLS, raw=raw, message_id="msg_busy")
    assert (response.status_code, response.get_json()["type"].rsplit("/", 1)[-1]) == (409, "request-in-flight")
    assert contacts(client, seeker) == []


def test_a_claim_left_by_a_dead_process_is_taken_over(client, rt, seeker, callcentre) -> None:
    raw = body_of(CALL)
    delivery = idempotency.Delivery(callcentre.client_id, "msg_orphan", "msg_orphan", "callcentre", "POST calls", _mac(rt, raw))
    assert idempotency.claim(rt, delivery, stale_after=timedelta(minutes=1)) is None
    with rt.engine.begin() as conn:  # its process died long ago
        conn.execute(update(idempotency.table).values(claimed_at=rt.clock() - timedelta(hours=1)))
    assert callcentre.post(CALLS, raw=raw, message_id="msg_orphan").status_code == 202
    assert len(contacts(client, seeker)) == 1


def _mac(rt: Any, raw: bytes) -> str:
    from core.plugins.channels import _request_mac

    return _request_mac(rt, raw)


def _refusals() -> list[Any]:
    """(what is sent, the expected status and problem type): each is refused and writes nothing."""
    stale = int(time.time()) - 3600
    future = int(time.time()) + 3600

    def unsigned(sender: ChannelClient) -> Any:
        raw = body_of(CALL)
        headers = sender.headers(raw)
        del headers["webhook-signature"]
        return sender.http.post(CALLS, data=raw, headers=headers)

    return [
        pytest.param(lambda s, o: s.post(CALLS, CALL, signature="v1,AAAA"), 400, "invalid-signature", id="bad-signature"),
        pytest.param(lambda s, o: s.post(CALLS, CALL, signature=o.signature("m1", int(time.time()), body_of(CALL))),
                     400, "invalid-signature", id="signed-with-another-clients-secret"),
        pytest.param(lambda s, o: s.post(CALLS, CALL, timestamp=stale), 400, "invalid-signature", id="old-timestamp"),
        pytest.param(lambda s, o: s.post(CALLS, CALL, timestamp=future), 400, "invalid-signature", id="future-timestamp"),
        pytest.param(lambda s, o: unsigned(s), 400, "invalid-signature", id="no-signature"),
        pytest.param(lambda s, o: s.post(CALLS, CALL, headers={"webhook-timestamp": "soon"}), 400, "invalid-signature",
                     id="timestamp-not-a-number"),
        pytest.param(lambda s, o: s.post(CALLS, CALL, signature="v1,\xe9\xff\xfe v1a,\x80"), 400, "invalid-signature",
                     id="non-ascii-signature"),
        pytest.param(lambda s, o: s.post(CALLS, CALL, headers={"webhook-id": "msg_\xe9t\xe9"}), 400, "invalid-signature",
                     id="non-ascii-message-id"),
        pytest.param(lambda s, o: s.post(CALLS, CALL, signature=" ".join(["v1,AAAA"] * 5000)), 400, "invalid-signature",
                     id="thousands-of-signatures"),
        pytest.param(lambda s, o: s.post(CALLS, raw=b'{"email": "ana.silva@example.org", "summary": '), 400,
                     "malformed-request", id="malformed-json"),
        pytest.param(lambda s, o: s.post(CALLS, [CALL]), 422, "validation-error", id="not-an-object"),
        pytest.param(lambda s, o: s.post(CALLS, {**CALL, "occurred_at": "yesterday"}), 422, "channel-message-refused",
                     id="not-the-channels-format"),
        pytest.param(lambda s, o: s.post(CALLS, {**CALL, "summary": "x" * 70_000}), 413, "payload-too-large",
                     id="over-the-size-limit"),
        pytest.param(lambda s, o: s.post(CALLS, CALL, headers={"Content-Type": "text/plain"}), 415, "unsupported-media-type",
                     id="not-json"),
        pytest.param(lambda s, o: s.post(CALLS, CALL, headers={"Idempotency-Key": '"bad\x01key"'}), 400,
                     "invalid-idempotency-key", id="bad-idempotency-key"),
        pytest.param(lambda s, o: o.post(CALLS, CALL), 403, "forbidden", id="another-channels-client"),
        pytest.param(lambda s, o: s.http.post(CALLS, data=body_of(CALL), headers={
            **s.headers(body_of(CALL)), "Authorization": "Bearer not-a-token"}), 401, "unauthenticated", id="unknown-client"),
    ]


@pytest.mark.parametrize(("send", "status", "slug"), _refusals())
def test_each_bad_message_is_refused_clearly_and_writes_nothing(client, rt, seeker, callcentre, jobboard, send, status,
                                                                slug) -> None:
    before = database_rows(rt)
    response = send(callcentre, jobboard)
    assert (response.status_code, response.mimetype) == (status, "application/problem+json"), response.get_data(as_text=True)
    problem = response.get_json()
    assert problem["type"].rsplit("/", 1)[-1] == slug and problem["status"] == status
    assert EMAIL not in response.get_data(as_text=True)
    assert database_rows(rt) == before


def test_a_refused_body_names_each_field_at_fault_without_its_value(client, rt, seeker, callcentre) -> None:
    response = callcentre.post(CALLS, {"national_id": "85.07.30-033.28", "email": EMAIL, "summary": "", "secret_field": 1})
    assert response.status_code == 422
    assert sorted(response.get_json()["errors"]) == ["email", "occurred_at", "secret_field", "summary"]
    assert "85.07.30" not in response.get_data(as_text=True)


def test_a_disabled_client_is_refused_even_with_a_good_signature(client, rt, seeker, callcentre) -> None:
    disable_client(rt, callcentre.name)
    assert callcentre.post(CALLS, CALL).status_code == 401
    assert contacts(client, seeker) == []


def test_during_a_secret_rotation_both_secrets_verify_then_only_the_new_one(client, rt, seeker, callcentre) -> None:
    old = callcentre.webhook_secret
    new = rotate_webhook_secret(rt, callcentre.name)["webhook_secret"]
    assert new != old and new.startswith("whsec_")
    assert callcentre.post(CALLS, {**CALL, "summary": "Ancien secret"}).status_code == 202
    callcentre.webhook_secret = new
    assert callcentre.post(CALLS, {**CALL, "summary": "Nouveau secret"}).status_code == 202
    # A sender in the middle of its change signs with both; one that verifies is enough.
    raw, ts = body_of({**CALL, "summary": "Les deux"}), int(time.time())
    both = f"{callcentre.signature('msg_both', ts, raw, old)} {callcentre.signature('msg_both', ts, raw, new)}"
    assert callcentre.post(CALLS, raw=raw, message_id="msg_both", timestamp=ts, signature=both).status_code == 202
    with rt.engine.begin() as conn:  # the overlap is over
        conn.execute(update(accounts).where(accounts.c.id == callcentre.client_id)
                     .values(webhook_previous_until=rt.clock() - timedelta(seconds=1)))
    callcentre.webhook_secret = old
    assert callcentre.post(CALLS, {**CALL, "summary": "Trop tard"}).status_code == 400
    assert len(contacts(client, seeker)) == 3


def test_a_message_for_no_seeker_records_nothing_and_says_only_no_match(client, rt, seeker, callcentre) -> None:
    before = {k: v for k, v in database_rows(rt).items() if k != "channel_deliveries"}
    response = callcentre.post(CALLS, {**CALL, "email": "nobody@example.org"})
    assert (response.status_code, response.get_json()) == (202, {"status": "no_match"})
    assert {k: v for k, v in database_rows(rt).items() if k != "channel_deliveries"} == before


def test_copies_sent_at_once_are_recorded_once(client, app, rt, seeker, callcentre) -> None:
    raw = body_of(CALL)
    headers = callcentre.headers(raw, message_id="msg_race")
    statuses: list[int] = []

    def send() -> None:
        statuses.append(app.test_client().post(CALLS, data=raw, headers=headers).status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) <= {202, 409} and 202 in statuses
    assert len(contacts(client, seeker)) == 1


def test_old_keys_are_forgotten_after_the_retention(client, rt, seeker, callcentre) -> None:
    assert callcentre.post(CALLS, CALL).status_code == 202
    assert idempotency.forget_expired(rt, rt.clock()) == 0
    assert idempotency.forget_expired(rt, rt.clock() + timedelta(days=rt.settings.CHANNEL_IDEMPOTENCY_DAYS, seconds=1)) == 1


def test_the_command_line_prints_the_webhook_secret_once_and_rotates_it(cli, rt) -> None:
    added = json.loads(cli("clients", "add", "standard-tel", "--scope", "channel:callcentre").output)
    assert added["webhook_secret"].startswith("whsec_") and added["client_secret"]
    rotated = json.loads(cli("clients", "rotate-webhook-secret", "standard-tel").output)
    assert rotated["webhook_secret"] not in (added["webhook_secret"], None) and rotated["previous_valid_until"]
    assert "webhook_secret" not in cli("clients", "list").output
    assert cli("clients", "rotate-webhook-secret", "nobody").exit_code == 1


def test_clients_of_one_channel_never_reach_another(client, rt, seeker, callcentre, jobboard) -> None:
    response = {"email": EMAIL, "occurred_at": "2026-12-01T10:02:00+01:00", "employer": "Boulangerie Dupont",
                "offer_title": "Boulanger"}
    assert callcentre.post(RESPONSES, response).status_code == 403
    assert jobboard.post(CALLS, CALL).status_code == 403
    both = ChannelClient(client, rt, "both", ["channel:callcentre", "channel:jobboard"])
    assert both.post(CALLS, CALL).status_code == 202


def test_a_message_signed_by_the_reference_library_is_accepted(client, rt, seeker, callcentre) -> None:
    """The Standard Webhooks reference library signs as partners' libraries will."""
    from datetime import datetime

    from standardwebhooks.webhooks import Webhook

    raw, now = body_of(CALL), datetime.now(UTC)
    signature = Webhook(callcentre.webhook_secret).sign("msg_reference", now, raw)
    response = callcentre.post(CALLS, raw=raw, message_id="msg_reference", timestamp=int(now.timestamp()), signature=signature)
    assert (response.status_code, response.get_json()) == (202, {"status": "recorded"})

"""``dossier_channel_endpoints``: a channel integration's inbound endpoint, for its service clients only,
recording contacts through the decision point; and the OAuth2 client credentials that reach it."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import pytest

from core.identity.clients import create_client, disable_client
from core.identity.roles import Role
from core.plugins.registry import PluginRefused
from plugins.api import ChannelEndpoint, ChannelReply, InboundMessage
from tests.plugins.conftest import make_plugin
from tests.plugins.helpers import ChannelClient, audit_entries, base

MAILBOX = "/api/v1/channels/mailbox/messages"


def receive(message: InboundMessage, context: Any) -> ChannelReply:
    """An e-mail gateway's webhook: one message from a seeker becomes a contact in their dossier."""
    ref = context.record_contact(email=message.body["from"], channel="email",
                                 occurred_at=datetime.fromisoformat(message.body["date"]), summary=message.body["subject"])
    return ChannelReply(202, {"recorded": ref is not None, "ref": ref})


def crash(message: InboundMessage, context: Any) -> ChannelReply:
    raise RuntimeError("QxChannelMarker boom")


def off_contract(message: InboundMessage, context: Any) -> ChannelReply:
    """Records, then answers a status its endpoint does not declare."""
    context.record_contact(email=message.body["from"], channel="email", occurred_at=datetime.fromisoformat(message.body["date"]),
                           summary=message.body["subject"])
    return ChannelReply(404, {"detail": "gone fishing"})


def mailbox(*endpoints: ChannelEndpoint) -> Any:
    endpoints = endpoints or (ChannelEndpoint("messages", receive, "Un courriel reçu / an e-mail received", status=202),
                              ChannelEndpoint("crash", crash, "Always fails"),
                              ChannelEndpoint("odd", off_contract, "Answers off its contract"))
    return make_plugin("mailbox", purposes=("dossier.public_task",), categories=(), purge=False,
                       extra={"dossier_channel_endpoints": lambda self: list(endpoints)})


@pytest.fixture
def plugins() -> list[Any]:
    return [mailbox()]


def gateway(client, rt, scopes: list[str], name: str = "mail-gateway") -> ChannelClient:  # type: ignore[no-untyped-def]
    return ChannelClient(client, rt, name, scopes)


@pytest.fixture
def seeker_with_email(client, make_person):  # type: ignore[no-untyped-def]
    seeker = make_person(Role.SEEKER)
    identity = {"name": "Ana Silva", "email": "ana.silva@example.org", "phone": None, "national_id": None, "birth_date": None,
                "address": None}
    assert client.put(base(seeker) + "/identity", json=identity, headers=seeker.auth).status_code == 200
    return seeker


MESSAGE = {"from": "Ana.Silva@example.org", "date": "2026-11-30T09:15:00+01:00", "subject": "Question sur ma formation"}


def test_a_channel_client_records_a_contact_in_the_seekers_dossier(client, rt, seeker_with_email) -> None:
    response = gateway(client, rt, ["channel:mailbox"]).post(MAILBOX, MESSAGE)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["recorded"] is True and response.get_json()["ref"] != seeker_with_email.subject_id
    contacts = client.get(base(seeker_with_email) + "/dossier", headers=seeker_with_email.auth).get_json()["contacts"]
    assert [(c["channel"], c["summary"]) for c in contacts] == [("email", "Question sur ma formation")]
    (entry,) = audit_entries(rt, action="dossier:contacts:record_from_channel", subject=seeker_with_email.subject_id)
    assert (entry["actor"]["role"], entry["decision"], entry["purposes"]) == ("service", "allow", ["dossier.public_task"])
    assert entry["request_id"]  # the plugin's thread kept the request's id


def test_an_unknown_sender_records_nothing_and_reveals_nothing(client, rt, seeker_with_email) -> None:
    response = gateway(client, rt, ["channel:mailbox"]).post(MAILBOX, {**MESSAGE, "from": "nobody@example.org"})
    assert (response.status_code, response.get_json()) == (202, {"recorded": False, "ref": None})


def test_only_clients_of_this_channel_reach_it(client, rt, make_person, seeker_with_email) -> None:
    assert client.post(MAILBOX, json=MESSAGE).status_code == 401
    assert gateway(client, rt, ["channel:sms"], name="sms-gateway").post(MAILBOX, MESSAGE).status_code == 403
    for role in (Role.ADVISOR, Role.ADMIN, Role.SEEKER):
        assert client.post(MAILBOX, json=MESSAGE, headers=make_person(role).auth).status_code == 403
    assert client.get(base(seeker_with_email) + "/dossier", headers=seeker_with_email.auth).get_json()["contacts"] == []


def test_a_disabled_client_is_refused_at_once(client, rt, seeker_with_email) -> None:
    sender = gateway(client, rt, ["channel:mailbox"])
    disable_client(rt, "mail-gateway")
    assert sender.post(MAILBOX, MESSAGE).status_code == 401


def test_a_channel_client_cannot_address_a_seeker_by_id(client, rt, seeker_with_email) -> None:
    sender = gateway(client, rt, ["channel:mailbox"])
    contact = {"channel": "email", "occurred_at": "2026-11-30T09:15:00+01:00", "summary": "Par l'identifiant"}
    response = sender.post(base(seeker_with_email) + "/contacts", contact)
    assert response.status_code == 403
    assert client.get(base(seeker_with_email) + "/dossier", headers=seeker_with_email.auth).get_json()["contacts"] == []


def test_a_channel_client_reads_nothing(client, rt, seeker_with_email) -> None:
    auth = {"Authorization": f"Bearer {gateway(client, rt, ['channel:mailbox']).token}"}
    for path in ("/dossier", "/activities", "/consents", "/export", "/access-log"):
        response = client.get(base(seeker_with_email) + path, headers=auth)
        assert response.status_code == 403, path
        assert "Ana" not in response.get_data(as_text=True)


def test_a_failing_handler_is_a_problem_without_its_message(client, rt, make_person, seeker_with_email) -> None:
    response = gateway(client, rt, ["channel:mailbox"]).post("/api/v1/channels/mailbox/crash", {})
    assert response.status_code == 502 and response.mimetype == "application/problem+json"
    assert "QxChannelMarker" not in response.get_data(as_text=True)
    health = {p["name"]: p["health"] for p in client.get("/api/v1/plugins", headers=make_person(Role.ADMIN).auth).get_json()}
    assert health["mailbox"]["incidents_last_7_days"] == 1


def test_a_reply_off_the_endpoints_contract_is_502_and_records_nothing(client, rt, seeker_with_email) -> None:
    response = gateway(client, rt, ["channel:mailbox"]).post("/api/v1/channels/mailbox/odd", MESSAGE)
    assert (response.status_code, response.mimetype) == (502, "application/problem+json")
    assert client.get(base(seeker_with_email) + "/dossier", headers=seeker_with_email.auth).get_json()["contacts"] == []


def test_a_body_that_is_not_a_json_object_is_refused_before_the_plugin(client, rt, seeker_with_email) -> None:
    sender = gateway(client, rt, ["channel:mailbox"])
    assert sender.post(MAILBOX, raw=b"not json").status_code == 400
    assert sender.post(MAILBOX, [1, 2]).status_code == 422
    assert sender.post(MAILBOX, MESSAGE, headers={"Content-Type": "text/plain"}).status_code == 415


def test_the_endpoints_are_in_the_openapi_document(client) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/channels/mailbox/messages" in paths and "/api/v1/oauth/token" in paths


@pytest.mark.parametrize(("endpoint", "message"), [
    (ChannelEndpoint("../escape", receive, "bad"), "endpoint path must match"),
    (ChannelEndpoint("ok", receive, "bad", methods=("DELETE",)), "methods among POST, PUT"),
    (ChannelEndpoint("ok", receive, "bad", status=404), "status is a 2xx status"),
    (ChannelEndpoint("ok", receive, "bad", body_schema={"type": {1, 2}}), "JSON Schemas as JSON data"),
])
def test_a_bad_endpoint_declaration_is_refused_at_start_up(start_app, endpoint, message) -> None:
    with pytest.raises(PluginRefused, match=message):
        start_app(mailbox(endpoint))


def test_channel_endpoints_need_the_public_task_purpose(start_app) -> None:
    plugin = make_plugin("mailbox", purposes=(), categories=(), purge=False, extra={"dossier_channel_endpoints": lambda self: []})
    with pytest.raises(PluginRefused, match="record contacts under dossier.public_task"):
        start_app(plugin)


class TestClientCredentials:
    """POST /api/v1/oauth/token (RFC 6749 section 4.4), with RFC 6749's error codes in problem+json."""

    def credentials(self, rt: Any, scopes: list[str] | None = None) -> dict[str, Any]:
        return create_client(rt, "gateway", scopes or ["channel:mailbox"])

    def test_basic_and_post_client_authentication_both_work(self, client, rt) -> None:
        registered = self.credentials(rt)
        form = {"grant_type": "client_credentials", "client_id": registered["client_id"], "client_secret": registered["client_secret"]}
        issued = client.post("/api/v1/oauth/token", data=form)
        assert issued.status_code == 200
        body = issued.get_json()
        assert (body["token_type"], body["scope"]) == ("Bearer", "channel:mailbox") and body["expires_in"] > 0
        assert issued.headers["Cache-Control"] == "no-store"
        assert client.get("/api/v1/me", headers={"Authorization": "Bearer " + body["access_token"]}).get_json()["role"] == "service"

    @pytest.mark.parametrize(("form", "secret", "status", "error"), [
        ({"grant_type": "client_credentials"}, "wrong", 401, "invalid_client"),
        ({"grant_type": "password", "username": "x", "password": "y"}, None, 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "scope": "channel:sms"}, None, 400, "invalid_scope"),
        ({}, None, 400, "unsupported_grant_type"),
    ])
    def test_refusals_name_the_rfc_6749_error(self, client, rt, form, secret, status, error) -> None:
        registered = self.credentials(rt)
        basic = base64.b64encode(f"{registered['client_id']}:{secret or registered['client_secret']}".encode()).decode()
        response = client.post("/api/v1/oauth/token", data=form, headers={"Authorization": "Basic " + basic})
        assert (response.status_code, response.mimetype, response.get_json()["error"]) == (status, "application/problem+json", error)
        assert registered["client_secret"] not in response.get_data(as_text=True)

    def test_a_client_cannot_sign_in_with_a_password_nor_be_made_a_user(self, client, rt, cli) -> None:
        registered = self.credentials(rt)
        response = client.post("/api/v1/auth/token", json={"username": "gateway", "password": registered["client_secret"]})
        assert response.status_code == 401
        assert cli("users", "add", "robot", "--role", "service").exit_code == 2

    def test_the_command_line_manages_clients(self, cli) -> None:
        import json

        added = json.loads(cli("clients", "add", "sms-gateway", "--scope", "channel:sms").output)
        assert added["scopes"] == ["channel:sms"] and len(added["client_secret"]) >= 40
        assert added["webhook_secret"].startswith("whsec_")
        (listed,) = [json.loads(line) for line in cli("clients", "list").output.splitlines()]
        assert listed["name"] == "sms-gateway" and "client_secret" not in listed
        assert cli("clients", "add", "bad", "--scope", "everything").exit_code == 1
        assert cli("clients", "disable", "sms-gateway").exit_code == 0
        assert cli("clients", "disable", "sms-gateway").exit_code == 1

    def test_the_secret_is_stored_only_as_a_hash(self, rt) -> None:
        from tests.acceptance.test_at_rest import raw_database_bytes

        registered = self.credentials(rt)
        stored = raw_database_bytes(rt)
        assert registered["client_secret"].encode() not in stored
        assert registered["webhook_secret"].removeprefix("whsec_").encode() not in stored

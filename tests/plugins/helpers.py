"""What the plugin tests do through the service: trigger events, read the audit log."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from audit.entries import parse
from audit.models import audit_leaves
from audit.service import sequence
from core.plugins import outbox
from core.plugins.gateway import plugin_gateway
from core.runtime import Runtime
from tests.conftest import Person

SKILLS = ["skill.bricklaying", "skill.setting-out"]
OCCUPATIONS = ["occ.bricklayer"]


def base(person: Person) -> str:
    return f"/api/v1/seekers/{person.subject_id}"


def fill_dossier(client: FlaskClient, seeker: Person, advisor: Person) -> None:
    """A profile, an application, a training and a contact: something in every category the test purpose covers."""
    assert client.patch(base(seeker) + "/profile", json={"skills": SKILLS, "occupations": OCCUPATIONS},
                        headers=seeker.auth).status_code == 200
    for kind in ("application", "training"):
        assert client.post(base(seeker) + "/activities", json={"kind": kind, "occurred_at": "2026-11-20T10:00:00+01:00",
                                                                "description": f"QxPluginMarker {kind}"},
                           headers=seeker.auth).status_code == 201
    assert client.post(base(seeker) + "/contacts", json={"channel": "phone", "occurred_at": "2026-11-21T09:00:00+01:00",
                                                          "summary": "QxPluginMarker contact"}, headers=advisor.auth).status_code == 201


def trigger(event: str, client: FlaskClient, rt: Runtime, seeker: Person, advisor: Person) -> None:
    """Make ``event`` happen to ``seeker``'s dossier the way users make it happen."""
    if event == "dossier_profile_published":
        response = client.post(base(seeker) + "/publication", headers=seeker.auth)
        if response.status_code == 409:  # already published: unpublish, then publish again
            assert client.delete(base(seeker) + "/publication", headers=seeker.auth).status_code == 200
            response = client.post(base(seeker) + "/publication", headers=seeker.auth)
        assert response.status_code == 201, response.get_json()
    elif event == "dossier_profile_changed":
        current = client.get(base(seeker) + "/dossier", headers=seeker.auth).get_json()["profile"].get("skills") or []
        skills = SKILLS if current != SKILLS else SKILLS[:1]
        assert client.patch(base(seeker) + "/profile", json={"skills": skills}, headers=seeker.auth).status_code == 200
    elif event == "dossier_activity_recorded":
        assert client.post(base(seeker) + "/activities", json={"kind": "application", "occurred_at": "2026-11-22T10:00:00+01:00",
                                                                "description": "Candidature"}, headers=seeker.auth).status_code == 201
    elif event == "dossier_contact_recorded":
        assert client.post(base(seeker) + "/contacts", json={"channel": "email", "occurred_at": "2026-11-22T11:00:00+01:00",
                                                              "summary": "Courriel"}, headers=advisor.auth).status_code == 201
    elif event == "dossier_contact_request_decided":
        # Contact requests come with the matching issue; the event is what their decision emits.
        with rt.transaction() as conn:
            outbox.emit(rt, plugin_gateway(client.application), conn, outbox.Event(event), seeker.subject_id,
                        payload=outbox.contact_request_payload("00000000-0000-4000-8000-000000000001",
                                                               "00000000-0000-4000-8000-000000000002", "accepted"))
    elif event == "dossier_consent_granted":
        # What granting the test purpose emits (test_events also grants it through the API).
        with rt.transaction() as conn:
            outbox.emit(rt, plugin_gateway(client.application), conn, outbox.Event(event), seeker.subject_id,
                        payload={"purpose": "recorder.insight"})
    else:
        raise AssertionError(f"no trigger for {event}")


def grant(client: FlaskClient, seeker: Person, purpose: str) -> None:
    response = client.post(base(seeker) + "/consents", json={"purpose": purpose, "notice_version": 1}, headers=seeker.auth)
    assert response.status_code == 201, response.get_json()


def withdraw(client: FlaskClient, seeker: Person, purpose: str) -> None:
    response = client.delete(base(seeker) + f"/consents/{purpose}", headers=seeker.auth)
    assert response.status_code == 200, response.get_json()


def audit_entries(rt: Runtime, **match: Any) -> list[dict[str, Any]]:
    """Every sequenced audit entry whose fields equal ``match`` (``client`` matches the actor's client)."""
    sequence(rt)
    with rt.engine.connect() as conn:
        rows = conn.execute(select(audit_leaves.c.canonical).order_by(audit_leaves.c.leaf_index)).scalars().all()
    entries = [parse(row) for row in rows]
    client = match.pop("client", None)
    return [e for e in entries if all(e.get(k) == v for k, v in match.items()) and (client is None or e["actor"]["client"] == client)]


class ChannelClient:
    """A registered channel client as a partner's system is: its access token, and its webhook
    secret, with which it signs each message per the Standard Webhooks specification (written here
    from the specification, not with the service's code, so that the two are checked against each other)."""

    def __init__(self, http: FlaskClient, rt: Runtime, name: str, scopes: list[str]) -> None:
        import base64

        from core.identity.clients import create_client

        registered = create_client(rt, name, scopes)
        self.http, self.name = http, name
        self.client_id, self.webhook_secret = registered["client_id"], registered["webhook_secret"]
        basic = base64.b64encode(f"{registered['client_id']}:{registered['client_secret']}".encode()).decode()
        answer = http.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic " + basic})
        assert answer.status_code == 200, answer.get_json()
        self.token = str(answer.get_json()["access_token"])

    def signature(self, message_id: str, timestamp: int, body: bytes, secret: str | None = None) -> str:
        import base64
        import hashlib
        import hmac

        key = base64.b64decode((secret or self.webhook_secret).removeprefix("whsec_"))
        mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
        return "v1," + base64.b64encode(mac).decode()

    def headers(self, body: bytes, *, message_id: str | None = None, timestamp: int | None = None,
                signature: str | None = None) -> dict[str, str]:
        import time
        import uuid

        message_id = message_id or f"msg_{uuid.uuid4().hex}"
        timestamp = int(time.time()) if timestamp is None else timestamp
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json", "webhook-id": message_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": signature if signature is not None else self.signature(message_id, timestamp, body)}

    def post(self, path: str, message: Any = None, *, raw: bytes | None = None, headers: dict[str, str] | None = None,
             **signing: Any) -> Any:
        """Send ``message`` (as JSON) or ``raw`` bytes, signed; ``headers`` replace or add headers."""
        import json

        body = raw if raw is not None else json.dumps(message).encode()
        return self.http.post(path, data=body, headers={**self.headers(body, **signing), **(headers or {})})

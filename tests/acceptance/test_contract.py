"""The OpenAPI document and the bodies cannot drift apart: real responses of every operation,
successes and errors, validate against the schema the document declares for their status.

Each request goes through the real app; the operation it reached is found from the route that
served it, and its body is validated (openapi-schema-validator, OpenAPI 3.0 semantics: nullable,
formats) against ``responses[status].content[media type].schema``. A status the document does not
list for that operation fails too. The last test checks that every operation of the document was
validated at least once.
"""

from __future__ import annotations

import base64
import re
from collections import defaultdict
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_schema_validator import OAS30Validator
from werkzeug.test import TestResponse

from core.identity import accounts
from core.identity.clients import create_client
from core.identity.roles import Role
from tests.conftest import Person

IDENTITY = {"name": "Nom Contrat", "email": "contrat@example.org", "phone": "+32 470 12 34 56", "national_id": None,
            "birth_date": "1990-05-01", "address": {"street": "Rue du Contrat 1", "postal_code": "4000", "city": "Liège"}}
PROFILE = {"skills": ["skill.tig-welding"], "occupations": ["occ.welder"], "languages": [{"code": "fr", "level": "native"}],
           "education": [{"title": "CESS"}], "experience": [{"title": "Soudeur", "start": "2020-01-01", "end": "2021-06-30"}],
           "postal_code": "4000", "mobility_radius_km": 20, "available_from": "2027-01-04", "licences": ["B"]}
CONTACT = {"channel": "phone", "occurred_at": "2026-11-20T10:00:00+01:00", "summary": "Appel de suivi"}
ACTIVITY = {"kind": "application", "occurred_at": "2026-11-21T09:00:00+01:00", "description": "Candidature"}
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


class Contract:
    """A client that validates every response against the app's OpenAPI document."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.app, self.client = app, client
        self.document: dict[str, Any] = client.get("/api/v1/openapi.json").get_json()
        self.validated: dict[tuple[str, str], set[int]] = defaultdict(set)

    def __call__(self, method: str, path: str, status: int, **kwargs: Any) -> TestResponse:
        response = self.client.open(path, method=method, **kwargs)
        assert response.status_code == status, (method, path, response.status_code, response.get_data(as_text=True)[:400])
        adapter = self.app.url_map.bind("localhost")
        rule, _ = adapter.match(path.split("?")[0], method=method, return_rule=True)
        template = _CONVERTER.sub(r"{\1}", rule.rule)
        operation = self.document["paths"][template][method.lower()]
        responses = operation["responses"]
        assert str(status) in responses, f"{method} {template} answered {status}, which the document does not list"
        declared = responses[str(status)]
        if response.status_code != 204 and response.data:
            content = declared.get("content", {})
            assert response.mimetype in content, (method, template, status, response.mimetype, list(content))
            schema = {**content[response.mimetype]["schema"], "components": self.document["components"]}
            # A binary document (a PDF) is a string of bytes to the schema: its content is not JSON's to check.
            body = (response.get_json() if response.is_json else
                    response.get_data(as_text=True) if response.mimetype.startswith("text/") else "<binary>")
            errors = sorted(OAS30Validator(schema).iter_errors(body), key=str)
            assert not errors, (method, template, status, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]])
        self.validated[(template, method.lower())].add(status)
        return response


@pytest.fixture
def contract(app: Flask, client: FlaskClient) -> Contract:
    return Contract(app, client)


def json_body(data: Any, person: Person | None = None) -> dict[str, Any]:
    return {"json": data, "headers": person.auth if person else {}}


def test_every_operation_answers_what_the_document_says(contract: Contract, rt, seeker: Person, advisor: Person,
                                                       make_person) -> None:
    c = contract
    base = f"/api/v1/seekers/{seeker.subject_id}"
    auditor, admin, employer = make_person(Role.AUDITOR), make_person(Role.ADMIN), make_person(Role.EMPLOYER)
    accounts.assign_employer(rt, advisor.username, employer.employer_id or "")
    accounts.set_password(rt, seeker.username, "mot-de-passe-contrat")

    # service and accounts
    c("GET", "/healthz", 200)
    c("GET", "/readyz", 200)
    c("GET", "/.well-known/jwks.json", 200)
    c("GET", "/api/v1/me", 200, headers=seeker.auth)
    c("GET", "/api/v1/me", 401)
    c("GET", "/api/v1/caseload", 200, headers=advisor.auth)
    c("GET", "/api/v1/caseload", 403, headers=seeker.auth)
    c("POST", "/api/v1/auth/token", 200, json={"username": seeker.username, "password": "mot-de-passe-contrat"})
    c("POST", "/api/v1/auth/token", 401, json={"username": seeker.username, "password": "pas-le-bon-mot"})
    c("POST", "/api/v1/auth/token", 422, json={"username": seeker.username})
    c("POST", "/api/v1/auth/token", 415, data=b"username=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    c("POST", "/api/v1/auth/token", 400, data=b'{"username": ', headers={"Content-Type": "application/json"})
    client_ = create_client(rt, "contract-gateway", ["channel:mail"])
    basic = base64.b64encode(f"{client_['client_id']}:{client_['client_secret']}".encode()).decode()
    c("POST", "/api/v1/oauth/token", 200, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"})
    c("POST", "/api/v1/oauth/token", 401, data={"grant_type": "client_credentials"},
      headers={"Authorization": "Basic " + base64.b64encode(b"nobody:wrong").decode()})
    c("POST", "/api/v1/oauth/token", 400, data={"grant_type": "password"}, headers={"Authorization": f"Basic {basic}"})

    # the dossier
    c("PUT", base + "/identity", 200, **json_body(IDENTITY, seeker))
    c("PUT", base + "/identity", 422, **json_body({**IDENTITY, "email": "pas une adresse"}, seeker))
    c("PATCH", base + "/profile", 200, **json_body(PROFILE, seeker))
    c("POST", base + "/profile/validations", 201, **json_body({"field": "skills", "evidence": "Certificat"}, advisor))
    c("POST", base + "/contacts", 201, **json_body(CONTACT, advisor))

    # channel integrations: signed messages from the channels' clients
    import json

    from tests.plugins.helpers import ChannelClient

    callcentre = ChannelClient(c.client, rt, "contract-callcentre", ["channel:callcentre"])
    jobboard = ChannelClient(c.client, rt, "contract-jobboard", ["channel:jobboard"])

    def signed(sender: ChannelClient, message: Any, **signing: Any) -> dict[str, Any]:
        raw = json.dumps(message).encode()
        return {"data": raw, "headers": sender.headers(raw, **signing)}

    call = {"email": IDENTITY["email"], "occurred_at": "2026-11-20T10:00:00+01:00", "summary": "Appel au centre"}
    response = {"email": IDENTITY["email"], "occurred_at": "2026-11-21T09:00:00+01:00", "employer": "Contrat SA",
                "offer_title": "Soudeur"}
    calls, responses = "/api/v1/channels/callcentre/calls", "/api/v1/channels/jobboard/responses"
    c("POST", calls, 202, **signed(callcentre, call, message_id="msg_contract"))
    c("POST", calls, 202, **signed(callcentre, call, message_id="msg_contract"))  # replayed
    c("POST", calls, 422, **signed(callcentre, {**call, "summary": "autre"}, message_id="msg_contract"))
    c("POST", calls, 422, **signed(callcentre, {"email": IDENTITY["email"]}))
    c("POST", calls, 400, **signed(callcentre, call, signature="v1,AAAA"))
    c("POST", calls, 403, **signed(jobboard, call))
    c("POST", calls, 413, **signed(callcentre, {**call, "summary": "x" * 70_000}))
    c("POST", responses, 202, **signed(jobboard, response))
    c("POST", responses, 401, data=b"{}", headers={"Content-Type": "application/json"})

    # the evidence document, and its public verification
    activity = c("POST", base + "/activities", 201, **json_body(ACTIVITY, seeker)).get_json()
    c("PATCH", f"{base}/activities/{activity['id']}", 200, **json_body({"outcome": "no_answer"}, seeker))
    c("PATCH", f"{base}/activities/{activity['id']}", 422, **json_body({"outcome": "maybe"}, seeker))
    period = "?from=2026-11-01&to=2026-11-30"
    pdf = c("GET", base + "/evidence" + period, 200, headers=seeker.auth).data
    c("GET", base + "/evidence" + period, 200, headers={**seeker.auth, "Accept": "text/html"})
    c("GET", base + "/evidence?from=2026-11-30&to=2026-11-01", 422, headers=seeker.auth)
    c("GET", base + "/evidence" + period, 403, headers=advisor.auth)  # no activity consent yet
    verified = c("POST", "/api/v1/evidence/verifications", 200, data=pdf, headers={"Content-Type": "application/pdf"})
    c("POST", "/api/v1/evidence/verifications", 415, json={})
    c("POST", "/api/v1/evidence/verifications", 400, data=b"", headers={"Content-Type": "text/html"})
    c("GET", f"/api/v1/evidence/{verified.get_json()['code']}", 200)
    c("GET", "/api/v1/evidence/AAAA-BBBB-CCCC", 404)
    c("POST", base + "/activities", 201, **json_body(ACTIVITY, seeker))
    c("GET", base + "/activities", 200, headers=seeker.auth)
    c("GET", base + "/activities", 403, headers=advisor.auth)  # consent-required
    c("GET", base + "/dossier", 200, headers=seeker.auth)
    c("GET", base + "/dossier", 200, headers=advisor.auth)  # sections withheld
    c("GET", base + "/dossier", 404, headers=make_person(Role.ADVISOR).auth)
    c("GET", base + "/export", 200, headers=seeker.auth)
    c("POST", "/api/v1/seekers/lookup", 200, **json_body({"email": IDENTITY["email"]}, advisor))
    c("POST", "/api/v1/seekers/lookup", 403, **json_body({"email": IDENTITY["email"]}, seeker))

    # consent
    c("GET", "/api/v1/purposes", 200, headers=seeker.auth)
    c("GET", base + "/consents", 200, headers=seeker.auth)
    c("POST", base + "/consents", 201, **json_body({"purpose": "activity.advisor_access", "notice_version": 1}, seeker))
    c("POST", base + "/consents", 409, **json_body({"purpose": "activity.advisor_access", "notice_version": 99}, seeker))
    c("GET", base + "/activities", 200, headers=advisor.auth)
    c("DELETE", base + "/consents/activity.advisor_access", 200, headers=seeker.auth)
    c("DELETE", base + "/consents/activity.advisor_access", 409, headers=seeker.auth)
    published = c("POST", base + "/publication", 201, headers=seeker.auth).get_json()
    c("DELETE", base + "/publication", 200, headers=seeker.auth)
    receipts = c("GET", base + "/consents/receipts", 200, headers=seeker.auth).get_json()
    assert {r["receipt_id"] for r in receipts} >= {r["receipt_id"] for r in published}
    c("GET", base + f"/consents/receipts/{receipts[0]['receipt_id']}", 200, headers=seeker.auth)

    # the audit log
    log = c("GET", base + "/access-log", 200, headers=seeker.auth).get_json()["entries"]
    c("GET", "/api/v1/audit/entries?limit=5", 200, headers=auditor.auth)
    c("GET", "/api/v1/audit/entries", 403, headers=seeker.auth)
    c("GET", "/api/v1/audit/entries?after=nine", 422, headers=auditor.auth)
    size = c("GET", "/api/v1/audit/checkpoint", 200, headers=auditor.auth).get_json()["tree_size"]
    assert c("GET", "/api/v1/audit/checkpoint.note", 200).get_data(as_text=True).startswith("dossier.example/audit\n")
    c("GET", f"/api/v1/audit/proofs/inclusion?leaf_index={log[0]['leaf_index']}&tree_size={size}", 200, headers=seeker.auth)
    c("GET", f"/api/v1/audit/proofs/consistency?first=1&second={size}", 200, headers=auditor.auth)

    # plugins and the taxonomy
    c("GET", "/api/v1/plugins", 200, headers=auditor.auth)
    c("GET", "/api/v1/plugins/purges?pending=true", 200, headers=admin.auth)
    c("GET", "/api/v1/taxonomy/occupations?q=soud", 200, headers=employer.auth)
    c("GET", "/api/v1/taxonomy/skills?q=tig", 200, headers=employer.auth)

    # employers' search and contact requests
    c("POST", base + "/publication", 201, headers=seeker.auth)
    employers = f"/api/v1/employers/{employer.employer_id}"
    criteria = {"occupation": "occ.welder", "skills": {"preferred": ["skill.tig-welding"]}, "postal_code": "4000", "radius_km": 30}
    found = c("POST", employers + "/searches", 201, **json_body(criteria, employer)).get_json()
    c("POST", employers + "/searches", 422, **json_body({"occupation": "occ.none"}, employer))
    c("POST", employers + "/searches", 404, **json_body(criteria, make_person(Role.EMPLOYER)))
    c("GET", employers + "/searches", 200, headers=employer.auth)
    c("GET", employers + f"/searches/{found['search_id']}", 200, headers=employer.auth)
    c("GET", base + "/appearances", 200, headers=seeker.auth)
    ask = {"candidate_ref": found["candidates"][0]["candidate_ref"], "message": "Bonjour"}
    sent = c("POST", employers + "/contact-requests", 201, **json_body(ask, employer)).get_json()
    c("POST", employers + "/contact-requests", 409, **json_body(ask, employer))
    c("GET", employers + "/contact-requests", 200, headers=advisor.auth)
    c("GET", base + "/contact-requests", 200, headers=seeker.auth)
    c("POST", base + f"/contact-requests/{sent['id']}/accept", 200, headers=seeker.auth)
    assert "name" in c("GET", employers + f"/contact-requests/{sent['id']}", 200, headers=employer.auth).get_json()
    c("POST", base + f"/contact-requests/{sent['id']}/refuse", 409, headers=seeker.auth)
    c("POST", base + f"/contact-requests/{sent['id']}/withdraw", 200, headers=seeker.auth)

    # alerts: the searches above alerted the employer's advisor
    from core.plugins.gateway import plugin_gateway
    from core.plugins.outbox import dispatch_pending

    dispatch_pending(rt, plugin_gateway(c.app))
    alerts = c("GET", "/api/v1/alerts?limit=10", 200, headers=advisor.auth).get_json()
    c("GET", "/api/v1/alerts?no_match=maybe", 422, headers=advisor.auth)
    c("GET", "/api/v1/alerts", 403, headers=seeker.auth)
    c("GET", f"/api/v1/alerts/{alerts[0]['id']}", 200, headers=advisor.auth)
    c("GET", f"/api/v1/alerts/{alerts[0]['id']}", 404, headers=make_person(Role.ADVISOR).auth)
    c("POST", f"/api/v1/alerts/{alerts[0]['id']}/read", 200, headers=advisor.auth)
    c("POST", f"/api/v1/alerts/{alerts[0]['id']}/unread", 200, headers=advisor.auth)
    c("GET", "/api/v1/me/alert-preferences", 200, headers=advisor.auth)
    c("PATCH", "/api/v1/me/alert-preferences", 200, **json_body({"email": "conseil@forem.example", "digest": "weekly"}, advisor))
    c("PATCH", "/api/v1/me/alert-preferences", 422, **json_body({"digest": "hourly"}, advisor))
    c("GET", "/api/v1/deliveries", 200, headers=admin.auth)
    c("GET", "/api/v1/deliveries", 403, headers=advisor.auth)

    # erasure, last
    c("DELETE", base, 204, headers=seeker.auth)
    c("GET", base + "/dossier", 401, headers=seeker.auth)  # the account went with the key

    missing = [f"{method.upper()} {path}" for path, methods in c.document["paths"].items() for method in methods
               if (path, method) not in c.validated and path != "/api/v1/openapi.json"]
    assert not missing, f"operations no response of which was validated: {missing}"


def test_the_document_names_every_operation_once_and_uses_portable_patterns(contract: Contract) -> None:
    operations = [op for methods in contract.document["paths"].values() for op in methods.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids)) and all(ids)
    patterns = re.findall(r'"pattern": "((?:[^"\\]|\\.)*)"', str(contract.document).replace("'", '"'))
    text = repr(contract.document)
    assert "\\\\Z" not in text and "\\Z" not in text  # JavaScript validators reject \Z
    for op in operations:
        if "requestBody" in op and "application/json" in op["requestBody"]["content"]:
            assert {"400", "415", "422"} <= set(op["responses"]), op["operationId"]
        if op.get("security") == [{"bearer": []}]:
            assert "401" in op["responses"], op["operationId"]
    problem = contract.document["components"]["schemas"]["Problem"]["properties"]
    assert {"errors", "consent", "request_id"} <= set(problem)
    token = contract.document["paths"]["/api/v1/oauth/token"]["post"]
    assert {"clientBasic": []} in token["security"] and "200" in token["responses"]
    assert patterns is not None


def test_a_body_that_breaks_its_schema_is_caught(contract: Contract, seeker: Person, monkeypatch) -> None:
    # The negative control: a service answering null where the document promises a string.
    from core.http import system
    from core.identity.accounts import AccountInfo

    monkeypatch.setattr(system, "account_info", lambda rt, account_id: AccountInfo(account_id, None, Role.SEEKER))  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="None is not of type 'string'"):
        contract("GET", "/api/v1/me", 200, headers=seeker.auth)

"""The plugin register: GET /api/v1/plugins and `dossier plugins list|purges|dispatch`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from core.identity.roles import Role
from plugins.api import StoredData
from tests.plugins.conftest import INSIGHT, make_plugin
from tests.plugins.helpers import grant, trigger

EVENT = "dossier_contact_recorded"


@pytest.fixture
def plugins() -> list[Any]:
    return [make_plugin(events=(EVENT,), stores=(StoredData("digest", "contacts per month, by seeker"),))]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR])
def test_admins_and_auditors_read_every_manifest(client, make_person, role) -> None:
    reader = make_person(role)
    (entry,) = client.get("/api/v1/plugins", headers=reader.auth).get_json()
    assert entry["name"] == "recorder" and entry["state"] == "enabled" and entry["source"] == "given"
    assert entry["purposes"] == [INSIGHT] and entry["purposes_brought"] == [INSIGHT]
    assert entry["events"] == [EVENT] and "contact.history" in entry["categories"]
    assert entry["stores"] == [{"name": "digest", "description": "contacts per month, by seeker", "per_subject": True}]
    assert entry["health"] == {"incidents_last_7_days": 0, "last_incident_at": None, "unconfirmed_purges": 0}


@pytest.mark.parametrize("role", [Role.SEEKER, Role.ADVISOR, Role.EMPLOYER])
def test_nobody_else_reads_the_register(client, make_person, role) -> None:
    assert client.get("/api/v1/plugins", headers=make_person(role).auth).status_code == 403
    assert client.get("/api/v1/plugins/purges", headers=make_person(role).auth).status_code == 403


def test_the_register_needs_a_token(client) -> None:
    response = client.get("/api/v1/plugins")
    assert response.status_code == 401 and response.mimetype == "application/problem+json"


def test_a_bad_query_is_a_problem(client, make_person) -> None:
    response = client.get("/api/v1/plugins/purges?pending=maybe", headers=make_person(Role.ADMIN).auth)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"


def test_the_register_is_in_the_openapi_document(client) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/plugins" in paths and "/api/v1/plugins/purges" in paths


def test_the_command_line_lists_plugins_and_purges_and_delivers(app, client, rt, seeker, advisor) -> None:
    from core.cli import cli

    runner = CliRunner()

    def run(*args: str) -> list[dict[str, Any]]:
        result = runner.invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.output.splitlines() if line.strip()]

    assert [p["name"] for p in run("plugins", "list")] == ["recorder"]
    grant(client, seeker, INSIGHT)
    trigger(EVENT, client, rt, seeker, advisor)
    assert client.delete(f"/api/v1/seekers/{seeker.subject_id}/consents/{INSIGHT}", headers=seeker.auth).status_code == 200
    (purge,) = run("plugins", "purges")
    assert (purge["plugin"], purge["state"], purge["cause"]) == ("recorder", "confirmed", "consent_withdrawn")
    assert run("plugins", "purges", "--pending") == []
    # The recorder has no periodic work (dossier_scheduled).
    assert run("plugins", "dispatch") == [{"events_delivered": 0, "purges_scheduled_for_lapsed_consents": 0, "purges_confirmed": 0,
                                           "scheduled_plugins_run": 0, "channel_keys_forgotten": 0}]

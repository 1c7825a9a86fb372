"""Service endpoints, the OpenAPI document, request logs and configuration."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from config.settings import ConfigError, load_settings
from core.app import create_app
from tests.conftest import Person


def test_health_and_readiness(client) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_readiness_fails_when_the_keyring_is_gone(client, rt) -> None:
    rt.keys.path.rename(rt.keys.path.with_suffix(".moved"))
    response = client.get("/readyz")
    assert response.status_code == 503 and response.mimetype == "application/problem+json"


def test_openapi_document_is_valid_and_complete(client, app) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    paths = document["paths"]
    for path, method in [
        ("/api/v1/seekers/{subject_id}/dossier", "get"), ("/api/v1/seekers/{subject_id}/identity", "put"),
        ("/api/v1/seekers/{subject_id}/profile", "patch"), ("/api/v1/seekers/{subject_id}/profile/validations", "post"),
        ("/api/v1/seekers/{subject_id}/contacts", "post"), ("/api/v1/seekers/{subject_id}/activities", "post"),
        ("/api/v1/seekers/{subject_id}/activities", "get"), ("/api/v1/seekers/{subject_id}/export", "get"),
        ("/api/v1/seekers/{subject_id}", "delete"), ("/api/v1/me", "get"), ("/healthz", "get"), ("/readyz", "get"),
        ("/.well-known/jwks.json", "get"), ("/api/v1/taxonomy/occupations", "get"), ("/api/v1/taxonomy/skills", "get"),
    ]:
        assert method in paths[path], (path, method)
    identity = document["paths"]["/api/v1/seekers/{subject_id}/identity"]["put"]
    schema_ref = identity["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert "national_id" in document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]["properties"]
    every_rule = {r.rule for r in app.url_map.iter_rules() if r.endpoint != "static"}
    assert len(every_rule) == len({p for p in paths}), "every route is documented"


def test_request_logs_are_json_with_a_request_id_and_no_values(client, seeker: Person, caplog) -> None:
    marker = "Zz-LogMarker-7731"
    with caplog.at_level(logging.INFO, logger="dossier"):
        response = client.put(f"/api/v1/seekers/{seeker.subject_id}/identity?x={marker}",
                              headers={**seeker.auth, "X-Request-ID": "0a1b2c3d4e5f60718293a4b5c6d7e8f9"},
                              json={"name": marker, "email": None, "phone": None, "national_id": None, "birth_date": None, "address": None})
    assert response.headers["X-Request-ID"] == "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    lines = [r for r in caplog.records if r.name == "dossier.request"]
    assert (lines and lines[-1].request_id == "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
            and lines[-1].route == "/api/v1/seekers/<uuid:subject_id>/identity")
    from config.logging import JsonFormatter

    formatted = JsonFormatter().format(lines[-1])
    assert json.loads(formatted)["status"] == 200
    assert marker not in caplog.text and marker not in formatted


def test_a_request_id_that_could_carry_data_is_replaced(client) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "name=Zoé Exemple"})
    assert response.headers["X-Request-ID"] != "name=Zoé Exemple"


@pytest.mark.parametrize(("env", "message"), [
    ({"DOSSIER_TOKEN_TTL": "soon"}, "DOSSIER_TOKEN_TTL"),
    ({"DOSSIER_TOKEN_TTL": "5"}, "at least 60"),
    ({"DOSSIER_LOG_LEVEL": "LOUD"}, "DOSSIER_LOG_LEVEL"),
    ({"DOSSIER_TOKEN_TTLL": "60"}, "unknown setting"),
    ({"DOSSIER_DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ({"DOSSIER_PLUGINS_ENABLED": '{"a": 1}'}, "expected a list of names"),
    ({"DOSSIER_PLUGINS_ENABLED": "[alerts]"}, "expected a list of names"),
    ({"DOSSIER_PLUGIN_TIMEOUT": "0"}, "at least 0.01"),
])
def test_a_bad_setting_is_one_clear_line(env: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(environ=env)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_settings_come_in_order(tmp_path: Path) -> None:
    (tmp_path / "dossier.toml").write_text("token_ttl = 120\nlog_level = 'DEBUG'\n")
    settings = load_settings({"LOG_FORMAT": "text"}, environ={"DOSSIER_INSTANCE_PATH": str(tmp_path), "DOSSIER_TOKEN_TTL": "600"})
    assert (settings.TOKEN_TTL, settings.LOG_LEVEL, settings.LOG_FORMAT) == (600, "DEBUG", "text")


@pytest.mark.parametrize("value", ["activity_digest, alerts", '["activity_digest", "alerts"]'])
def test_a_list_of_plugins_is_read_from_the_environment(value: str) -> None:
    assert load_settings(environ={"DOSSIER_PLUGINS_ENABLED": value}).PLUGINS_ENABLED == ("activity_digest", "alerts")


def test_a_list_of_plugins_is_read_from_the_instance_file(tmp_path: Path) -> None:
    (tmp_path / "dossier.toml").write_text('plugins_blocked = ["noisy"]\n')
    assert load_settings(environ={"DOSSIER_INSTANCE_PATH": str(tmp_path)}).PLUGINS_BLOCKED == ("noisy",)


def test_an_uninitialised_instance_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="dossier init"):
        create_app({"INSTANCE_PATH": str(tmp_path / "empty")})

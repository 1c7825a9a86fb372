"""The `dossier` command line, as ../shared/API.md names it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.cli import cli as dossier_cli

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "esco-sample"


def test_init_is_idempotent_and_creates_private_keys(tmp_path: Path, database_url: str, monkeypatch) -> None:
    instance = tmp_path / "fresh-instance"
    monkeypatch.setenv("DOSSIER_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("DOSSIER_DATABASE_URL", database_url)
    runner = CliRunner()
    first = runner.invoke(dossier_cli, ["init"])
    assert first.exit_code == 0, first.output
    assert "keyring: created" in first.output and "database: at the latest migration" in first.output
    # The first line names the instance folder, absolute, and the variable that chooses it.
    heading = first.output.splitlines()[0]
    assert heading.startswith("instance: ") and str(instance.resolve()) in heading and "DOSSIER_INSTANCE_PATH" in heading
    keyring = (instance / "keyring.json").read_bytes()
    for name in ("keyring.json", "signing-keys.json"):
        assert stat.S_IMODE(os.stat(instance / name).st_mode) == 0o600
    second = runner.invoke(dossier_cli, ["init"])
    assert second.exit_code == 0 and "keyring: present" in second.output and "taxonomy: present" in second.output
    assert (instance / "keyring.json").read_bytes() == keyring


def test_commands_print_json_and_wire_a_caseload(cli, client) -> None:
    employer = json.loads(cli("employers", "add", "Menuiserie Exemple").output)
    assert set(employer) == {"id", "name"}
    seeker = json.loads(cli("users", "add", "sam.seeker", "--role", "seeker").output)
    assert seeker["role"] == "seeker" and seeker["subject_id"]
    advisor = json.loads(cli("users", "add", "ada.advisor", "--role", "advisor").output)
    recruiter = json.loads(cli("users", "add", "rita.rh", "--role", "employer", "--employer", employer["id"]).output)
    assert recruiter["employer_id"] == employer["id"]
    assert cli("assign", "--advisor", "ada.advisor", "--seeker", "sam.seeker").exit_code == 0
    assert cli("assign", "--advisor", "ada.advisor", "--employer", employer["id"]).exit_code == 0
    token = cli("token", "ada.advisor", "--ttl", "600").output.strip()
    response = client.get(f"/api/v1/seekers/{seeker['subject_id']}/dossier", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert advisor["id"] == client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()["id"]


@pytest.mark.parametrize("args", [
    ["users", "add", "Bad Name!", "--role", "seeker"],
    ["users", "add", "someone", "--role", "employer"],
    ["users", "add", "someone", "--role", "advisor", "--employer", "00000000-0000-4000-8000-000000000000"],
    ["assign", "--advisor", "nobody", "--seeker", "nobody-else"],
    ["token", "nobody"],
])
def test_bad_commands_fail_with_one_line_and_change_nothing(cli, rt, args) -> None:
    from sqlalchemy import func, select

    from core.models import accounts

    with rt.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(accounts)).scalar_one()
    result = cli(*args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output and result.output.strip().count("\n") <= 2
    with rt.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(accounts)).scalar_one() == before


def test_duplicate_username_is_refused(cli) -> None:
    assert cli("users", "add", "twin", "--role", "auditor").exit_code == 0
    result = cli("users", "add", "twin", "--role", "auditor")
    assert result.exit_code == 1 and "existe déjà" in result.output


def test_short_passwords_are_refused(cli) -> None:
    result = cli("users", "add", "shorty", "--role", "advisor", "--password-stdin", input="short\n")
    assert result.exit_code == 1 and "12" in result.output


def test_demo_is_idempotent(cli, client) -> None:
    first = cli("demo")
    assert first.exit_code == 0, first.output
    second = cli("demo")
    assert second.exit_code == 0 and second.output == first.output
    login = client.post("/api/v1/auth/token", json={"username": "conseiller.dupont", "password": "demo-dossier-2026"})
    token = login.get_json()["access_token"]
    marie = next(line for line in first.output.splitlines() if "marie.demo" in line).split("subject_id=")[1]
    dossier = client.get(f"/api/v1/seekers/{marie}/dossier", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert dossier["identity"]["name"] == "Marie Exemple" and len(dossier["contacts"]) == 1
    # Marie published her profile: her advisor sees her job-search activities.
    assert len(dossier["activities"]) == 1 and [w["section"] for w in dossier["withheld"]] == ["profile"]


def test_keys_rotate_rewraps_every_data_key(cli, client, seeker) -> None:
    result = cli("keys", "rotate")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["kek_version"] == 2 and report["rewrapped"] == 1
    assert client.get(f"/api/v1/seekers/{seeker.subject_id}/dossier", headers=seeker.auth).status_code == 200


def test_taxonomy_import_of_the_esco_sample(cli, client, seeker) -> None:
    if not SAMPLE.is_dir():
        pytest.skip(f"ESCO sample not found at {SAMPLE}")
    result = cli("taxonomy", "import", str(SAMPLE))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["occupations"], report["skills"], report["relations"]) == (234, 3458, 11027)
    found = client.get("/api/v1/taxonomy/occupations?q=carreleur", headers=seeker.auth).get_json()
    assert any(c["code"].endswith("02447817-ea01-4d8b-b09c-8bc128e447e6") for c in found)


def test_taxonomy_import_of_a_wrong_folder_fails_cleanly(cli, tmp_path: Path) -> None:
    result = cli("taxonomy", "import", str(tmp_path))
    assert result.exit_code == 1 and "occupations" in result.output and "Traceback" not in result.output


def test_taxonomy_search_over_http(client, seeker) -> None:
    welders = client.get("/api/v1/taxonomy/occupations?q=soudeur", headers=seeker.auth).get_json()
    assert any(c["code"] == "occ.welder" and c["label_en"] for c in welders)
    assert client.get("/api/v1/taxonomy/skills?limit=3", headers=seeker.auth).status_code == 200
    assert len(client.get("/api/v1/taxonomy/skills?limit=3", headers=seeker.auth).get_json()) == 3
    assert client.get("/api/v1/taxonomy/skills?limit=0", headers=seeker.auth).status_code == 422
    assert client.get("/api/v1/taxonomy/skills").status_code == 401

"""Signing keys are rotated per use; a retired key stays published, so what it signed still verifies.

`dossier keys rotate-signing --use USE` retires the active key of one use: its private part leaves
the file, its public part stays in it and in the JWKS, marked retired, with its `dossier_use`.
Receipts and checkpoints signed before verify after (through the API, offline with the JWKS, and
with the stand-alone audit verifier); tokens signed by a retired key are refused.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from joserfc.jwk import KeySet

from consent.receipts import InvalidReceipt, verify_receipt
from core.identity.signing import KeyUse, SigningKeys
from tests.conftest import Person


def base(person: Person) -> str:
    return f"/api/v1/seekers/{person.subject_id}"


def grant(client, seeker: Person, purpose: str = "profile.matching") -> dict:  # type: ignore[no-untyped-def]
    response = client.post(base(seeker) + "/consents", json={"purpose": purpose, "notice_version": 1}, headers=seeker.auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def kid_of(compact: str) -> str:
    header = json.loads(base64.urlsafe_b64decode(compact.split(".")[0] + "=="))
    return str(header["kid"])


def rotate(cli, use: str) -> dict:  # type: ignore[no-untyped-def]
    result = cli("keys", "rotate-signing", "--use", use)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def published(client, use: str) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    jwks = client.get("/.well-known/jwks.json").get_json()
    return {key["kid"]: key for key in jwks["keys"] if key["dossier_use"] == use}


def test_a_receipt_signed_before_a_rotation_still_verifies_after(client, cli, rt, seeker: Person) -> None:
    before = grant(client, seeker)
    old_kid = kid_of(before["jws"])
    rotation = rotate(cli, "receipt")
    assert rotation["use"] == "receipt" and rotation["retired_kid"] == old_kid and rotation["kid"] != old_kid
    assert rotation["retired_at"]
    # Through the API: the seeker downloads the old receipt, verified by the service.
    one = client.get(base(seeker) + f"/consents/receipts/{before['receipt_id']}", headers=seeker.auth)
    assert one.status_code == 200 and one.get_json()["jws"] == before["jws"]
    # Offline, with the published key set alone.
    receipt_keys = KeySet.import_key_set({"keys": list(published(client, "receipt").values())})
    assert verify_receipt(before["jws"], receipt_keys)["receipt_id"] == before["receipt_id"]
    # A new receipt is signed with the new key, and verifies the same ways.
    after = client.post(base(seeker) + "/consents", json={"purpose": "activity.advisor_access", "notice_version": 1},
                        headers=seeker.auth).get_json()
    assert kid_of(after["jws"]) == rotation["kid"]
    assert verify_receipt(after["jws"], receipt_keys)["purpose"] == "activity.advisor_access"
    listed = client.get(base(seeker) + "/consents/receipts", headers=seeker.auth).get_json()
    for item in listed:
        assert client.get(base(seeker) + f"/consents/receipts/{item['receipt_id']}", headers=seeker.auth).status_code == 200


def test_the_jwks_lists_the_retired_key_marked_so(client, cli) -> None:
    first = rotate(cli, "receipt")
    second = rotate(cli, "receipt")
    keys = published(client, "receipt")
    assert set(keys) == {first["retired_kid"], first["kid"], second["kid"]}
    assert keys[second["kid"]]["dossier_status"] == "active" and "retired_at" not in keys[second["kid"]]
    for kid, when in ((first["retired_kid"], first["retired_at"]), (second["retired_kid"], second["retired_at"])):
        assert keys[kid]["dossier_status"] == "retired" and keys[kid]["retired_at"] == when
        assert keys[kid]["key_ops"] == ["verify"] and keys[kid]["alg"] == "Ed25519"
    # One active key per use; the other uses are untouched.
    jwks = client.get("/.well-known/jwks.json").get_json()["keys"]
    active = [(k["dossier_use"]) for k in jwks if k["dossier_status"] == "active"]
    assert sorted(active) == ["checkpoint", "evidence", "receipt", "token", "webhook"]
    assert all("d" not in k for k in jwks), "private key material must never be published"


def test_the_private_part_of_a_retired_key_leaves_the_file(cli, rt) -> None:
    path: Path = rt.signing.path
    old = rt.signing.key(KeyUse.CHECKPOINT).as_dict(private=True)
    rotation = rotate(cli, "checkpoint")
    raw = path.read_text(encoding="utf-8")
    assert old["d"] not in raw, "the retired key's private part is still in the file"
    entries = {entry["jwk"]["kid"]: entry for entry in json.loads(raw)["keys"]}
    retired = entries[old["kid"]]
    assert retired["status"] == "retired" and retired["use"] == "checkpoint" and "d" not in retired["jwk"]
    assert "d" in entries[rotation["kid"]]["jwk"]
    assert os.stat(path).st_mode & 0o077 == 0, "the signing-key file must stay private (0600)"


def test_a_key_verifies_only_for_its_use_retired_or_not(client, cli, seeker: Person) -> None:
    receipt = grant(client, seeker)
    rotate(cli, "receipt")
    token_keys = KeySet.import_key_set({"keys": list(published(client, "token").values())})
    with pytest.raises(InvalidReceipt):
        verify_receipt(receipt["jws"], token_keys)
    # The retired receipt key does not make the receipt an access token.
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {receipt['jws']}"}).status_code == 401


def test_a_token_signed_by_a_retired_token_key_is_refused(client, cli, rt, seeker: Person) -> None:
    # Verified (and remembered) before the rotation.
    assert client.get("/api/v1/me", headers=seeker.auth).status_code == 200
    rotation = rotate(cli, "token")
    assert kid_of(seeker.token) == rotation["retired_kid"]
    assert client.get("/api/v1/me", headers=seeker.auth).status_code == 401
    assert published(client, "token")[rotation["retired_kid"]]["dossier_status"] == "retired"
    fresh = rt.tokens.issue(seeker.id, "seeker", subject_id=seeker.subject_id)
    assert kid_of(fresh) == rotation["kid"]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_another_process_picks_up_a_rotation(cli, rt) -> None:
    other = SigningKeys(rt.signing.path, reload_interval=0)
    before = other.key(KeyUse.RECEIPT).kid
    rotation = rotate(cli, "receipt")
    assert other.key(KeyUse.RECEIPT).kid == rotation["kid"] != before
    assert {k.kid for k in other.public_keyset(KeyUse.RECEIPT).keys} == {before, rotation["kid"]}
    assert [k.kid for k in other.public_keyset(KeyUse.TOKEN).keys] == [other.key(KeyUse.TOKEN).kid]


def test_checkpoints_signed_before_a_rotation_still_verify(client, cli, seeker: Person, tmp_path: Path) -> None:
    grant(client, seeker)
    assert cli("audit", "verify").exit_code == 0  # signs a checkpoint with the current key
    rotation = rotate(cli, "checkpoint")
    grant(client, seeker, "activity.advisor_access")
    verified = cli("audit", "verify")
    assert verified.exit_code == 0, verified.output
    export = tmp_path / "audit.jsonl"
    assert cli("audit", "export", str(export)).exit_code == 0
    kids = {kid_of(value) for line in export.read_text().splitlines() for value in json.loads(line).values()
            if isinstance(value, str) and value.count(".") == 2 and value.startswith("ey")}
    assert {rotation["retired_kid"], rotation["kid"]} <= kids, "the export should hold checkpoints of both keys"
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(client.get("/.well-known/jwks.json").get_json()))
    offline = subprocess.run([sys.executable, "-m", "audit.verifier", str(export), "--jwks", str(jwks)],
                             capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    assert offline.returncode == 0, offline.stdout + offline.stderr


def test_rotating_needs_a_known_use(cli) -> None:
    result = cli("keys", "rotate-signing", "--use", "everything")
    assert result.exit_code == 2 and "everything" in result.output

"""Witnesses: the checkpoint as a C2SP signed note, checked with the independent implementation of
tests/audit/test_note.py; cosignatures recorded by `dossier audit cosign` only when they verify,
served with the note, carried by the export for `python -m audit.verifier --witness`, and checked
again by `dossier audit verify`."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, update

from audit import note
from audit.models import audit_cosignatures
from audit.verifier import main as verifier_main
from core.app import create_app
from core.identity.roles import Role
from core.runtime import runtime
from tests.audit.test_audit_log import activity  # noqa: F401 - the fixture: some allowed and denied accesses
from tests.audit.test_note import ref_checkpoint, ref_checkpoint_text, ref_cosign, ref_open, ref_public

ORIGIN = "dossier.example/audit"
NOTE_URL = "/api/v1/audit/checkpoint.note"


@dataclass(frozen=True)
class Witness:
    name: str
    seed: bytes

    @property
    def public(self) -> bytes:
        return ref_public(self.seed)

    @property
    def vkey(self) -> str:
        return note.vkey(self.name, self.public, note.SIG_COSIGNATURE_V1)

    def cosign(self, body: bytes) -> str:
        """This witness's cosignature/v1 line over ``body``, made with the independent implementation."""
        return ref_cosign(body, self.name, self.seed, int(time.time()))


@pytest.fixture
def witness() -> Witness:
    return Witness("witness.example/w1", os.urandom(32))


@pytest.fixture
def stranger_witness() -> Witness:
    return Witness("witness.example/w2", os.urandom(32))


@pytest.fixture
def witnessed(rt, witness: Witness, stranger_witness: Witness):  # type: ignore[no-untyped-def]
    """The app with both witnesses configured.

    NOTE: set on the runtime's settings directly: `create_app({"AUDIT_WITNESSES": (vkey,)})` refuses
    every vkey (see test_a_witness_vkey_is_accepted_as_the_audit_witnesses_setting).
    """
    rt.settings = dataclasses.replace(rt.settings, AUDIT_WITNESSES=(witness.vkey, stranger_witness.vkey))
    return rt


def log_key(client) -> bytes:  # type: ignore[no-untyped-def]
    """The checkpoint key's public bytes, from the published JWKS."""
    keys = [k for k in client.get("/.well-known/jwks.json").get_json()["keys"] if k.get("dossier_use") == "checkpoint"]
    assert len(keys) == 1
    return base64.urlsafe_b64decode(keys[0]["x"] + "=" * (-len(keys[0]["x"]) % 4))


def served_note(client) -> str:  # type: ignore[no-untyped-def]
    response = client.get(NOTE_URL)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def cosign_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"cosigned-{hashlib.sha256(text.encode()).hexdigest()[:8]}.note"
    path.write_text(text, encoding="utf-8")
    return path


def recorded(rt) -> int:  # type: ignore[no-untyped-def]
    with rt.engine.connect() as conn:
        count: int = conn.execute(select(func.count()).select_from(audit_cosignatures)).scalar_one()
    return count


def cosigned(rt, cli, client, witness: Witness, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    """The served note with the witness's line, recorded by `dossier audit cosign`."""
    text = served_note(client)
    body, _ = ref_open(text.encode(), [(ORIGIN, 1, log_key(client))])
    line = witness.cosign(body)
    result = cli("audit", "cosign", str(cosign_file(tmp_path, text + line)))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"tree_size": ref_checkpoint(body)[1], "witnesses": [witness.name]}
    assert recorded(rt) == 1
    return text + line


def exported(cli, client, tmp_path: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    export, jwks = tmp_path / "audit.jsonl", tmp_path / "jwks.json"
    assert cli("audit", "export", str(export)).exit_code == 0
    jwks.write_text(json.dumps(client.get("/.well-known/jwks.json").get_json()))
    return export, jwks


# -- the checkpoint as a signed note ---------------------------------------------------------------


@pytest.mark.usefixtures("activity")
def test_the_checkpoint_note_is_public_and_verifies_with_the_independent_implementation(client, make_person) -> None:
    checkpoint = client.get("/api/v1/audit/checkpoint", headers=make_person(Role.AUDITOR).auth).get_json()
    text = served_note(client)  # no Authorization header
    body, signers = ref_open(text.encode(), [(ORIGIN, 1, log_key(client))])
    assert signers == [ORIGIN]
    origin, size, root, extensions = ref_checkpoint(body)
    assert (origin, size, root.hex(), extensions) == (ORIGIN, checkpoint["tree_size"], checkpoint["root_hash"], [])
    assert checkpoint["tree_size"] > 0


def test_a_witness_vkey_is_accepted_as_the_audit_witnesses_setting(instance: Path, database_url: str, witness: Witness) -> None:
    app = create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": database_url, "TESTING": True, "AUDIT_WITNESSES": (witness.vkey,)})
    try:
        assert app.config["AUDIT_WITNESSES"] == (witness.vkey,)
    finally:
        runtime(app).engine.dispose()


# -- cosigning -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("activity", "witnessed")
def test_a_recorded_cosignature_is_served_with_the_note(rt, cli, client, witness: Witness, tmp_path: Path) -> None:
    text = cosigned(rt, cli, client, witness, tmp_path)
    served = served_note(client)
    assert served == text
    keys = [(ORIGIN, 1, log_key(client)), (witness.name, 4, witness.public)]
    assert ref_open(served.encode(), keys)[1] == [ORIGIN, witness.name]


@pytest.mark.usefixtures("activity", "witnessed")
def test_the_export_verifies_with_the_witness_that_cosigned_and_fails_with_another(
        rt, cli, client, witness: Witness, stranger_witness: Witness, tmp_path: Path, capsys) -> None:
    text = cosigned(rt, cli, client, witness, tmp_path)
    export, jwks = exported(cli, client, tmp_path)
    assert {"note": text} in [json.loads(line) for line in export.read_text().splitlines()]
    capsys.readouterr()
    assert verifier_main([str(export), "--jwks", str(jwks), "--witness", witness.vkey]) == 0
    assert verifier_main([str(export), "--jwks", str(jwks), "--witness", stranger_witness.vkey]) == 1
    assert f"no checkpoint in the export is cosigned by the witness {stranger_witness.name}" in capsys.readouterr().out


def _forged_by_another_key(witness: Witness, text: str, body: bytes) -> str:
    """A line with the witness's name and key ID, signed by some other key."""
    impostor = ref_cosign(body, witness.name, os.urandom(32), int(time.time()))
    parsed = note.parse_signature_line(impostor)
    return text + note.signature_line(witness.name, note.key_hash(witness.name, witness.public, note.SIG_COSIGNATURE_V1),
                                      parsed.signature)


def _over_an_altered_body(witness: Witness, text: str, body: bytes) -> str:
    origin, size, root, _ = ref_checkpoint(body)
    return text + witness.cosign(ref_checkpoint_text(origin, size, bytes(b ^ 1 for b in root), []))


def _another_logs_checkpoint(witness: Witness, text: str, body: bytes) -> str:
    _, size, root, _ = ref_checkpoint(body)
    other = ref_checkpoint_text("elsewhere.example/log", size, root, [])
    signed = note.sign_note(other, "elsewhere.example/log", Ed25519PrivateKey.generate())
    return signed + witness.cosign(other)


def _a_size_this_log_never_signed(witness: Witness, text: str, body: bytes) -> str:
    _, size, root, _ = ref_checkpoint(body)
    other = ref_checkpoint_text(ORIGIN, size + 100, root, [])
    return note.sign_note(other, ORIGIN, Ed25519PrivateKey.generate()) + witness.cosign(other)


FORGERIES = {
    "signed by another key": (_forged_by_another_key, "does not verify"),
    "over an altered body": (_over_an_altered_body, "does not verify"),
    "another log's checkpoint": (_another_logs_checkpoint, "not a checkpoint of this log"),
    "a size this log never signed": (_a_size_this_log_never_signed, "not a checkpoint of this log"),
    "not a note": (lambda witness, text, body: "hello\n", "not a checkpoint note"),
}


@pytest.mark.parametrize("forgery", FORGERIES)
@pytest.mark.usefixtures("activity", "witnessed")
def test_a_forged_cosignature_is_refused_and_nothing_recorded(rt, cli, client, witness: Witness, tmp_path: Path, forgery: str) -> None:
    forge, message = FORGERIES[forgery]
    text = served_note(client)
    body, _ = ref_open(text.encode(), [(ORIGIN, 1, log_key(client))])
    result = cli("audit", "cosign", str(cosign_file(tmp_path, forge(witness, text, body))))
    assert result.exit_code != 0 and message in result.output, result.output
    assert recorded(rt) == 0
    assert served_note(client) == text


@pytest.mark.usefixtures("activity", "witnessed")
def test_a_forged_cosignature_beside_a_valid_one_records_nothing(
        rt, cli, client, witness: Witness, stranger_witness: Witness, tmp_path: Path) -> None:
    text = served_note(client)
    body, _ = ref_open(text.encode(), [(ORIGIN, 1, log_key(client))])
    forged = _forged_by_another_key(stranger_witness, "", body)
    result = cli("audit", "cosign", str(cosign_file(tmp_path, text + witness.cosign(body) + forged)))
    assert result.exit_code != 0 and "does not verify" in result.output, result.output
    assert recorded(rt) == 0


@pytest.mark.usefixtures("activity")
def test_cosign_refuses_when_no_witness_is_configured(rt, cli, client, witness: Witness, tmp_path: Path) -> None:
    text = served_note(client)
    body, _ = ref_open(text.encode(), [(ORIGIN, 1, log_key(client))])
    result = cli("audit", "cosign", str(cosign_file(tmp_path, text + witness.cosign(body))))
    assert result.exit_code != 0 and "no witness configured" in result.output, result.output
    assert recorded(rt) == 0


# -- verification of what was recorded ---------------------------------------------------------------


@pytest.mark.usefixtures("activity", "witnessed")
def test_an_altered_stored_cosignature_fails_audit_verify(rt, cli, client, witness: Witness, tmp_path: Path) -> None:
    cosigned(rt, cli, client, witness, tmp_path)
    assert cli("audit", "verify").exit_code == 0
    with rt.engine.begin() as conn:
        line = conn.execute(select(audit_cosignatures.c.line)).scalar_one()
        parsed = note.parse_signature_line(line)
        later = (note.cosignature_timestamp(parsed) + 1).to_bytes(8, "big") + parsed.signature[8:]
        conn.execute(update(audit_cosignatures).values(line=note.signature_line(parsed.name, parsed.key_hash, later)))
    result = cli("audit", "verify")
    assert result.exit_code == 1 and f"the cosignature by {witness.name}" in result.output, result.output

"""The audit log through the service: every decision recorded, verification catches tampering."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from joserfc.jwk import KeySet
from sqlalchemy import delete, func, select, update

from audit.entries import parse
from audit.merkle import leaf_hash
from audit.models import audit_checkpoints, audit_leaves, audit_queue, audit_tree
from audit.service import sequence
from audit.verifier import main as verifier_main
from audit.verifier import verify_checkpoint, verify_consistency, verify_inclusion
from core.identity.roles import Role
from tests.conftest import Person

MARKER = "QxAuditMarker5521"
IDENTITY = {"name": MARKER, "email": None, "phone": None, "national_id": None, "birth_date": None, "address": None}


def base(person: Person) -> str:
    return f"/api/v1/seekers/{person.subject_id}"


def leaves(rt) -> list[dict]:  # type: ignore[no-untyped-def]
    sequence(rt)
    with rt.engine.connect() as conn:
        rows = conn.execute(select(audit_leaves.c.leaf_index, audit_leaves.c.canonical).order_by(audit_leaves.c.leaf_index)).all()
    return [{"leaf_index": r.leaf_index, **parse(r.canonical)} for r in rows]


@pytest.fixture
def activity(client, seeker: Person, advisor: Person, make_person):  # type: ignore[no-untyped-def]
    """Some allowed and denied accesses."""
    stranger = make_person(Role.ADVISOR)
    assert client.put(base(seeker) + "/identity", json=IDENTITY, headers=seeker.auth).status_code == 200
    assert client.get(base(seeker) + "/dossier", headers=advisor.auth).status_code == 200
    assert client.get(base(seeker) + "/dossier", headers=stranger.auth).status_code == 404
    assert client.get(base(seeker) + "/activities", headers=advisor.auth).status_code == 403
    return stranger


def test_every_decision_is_an_entry_allowed_or_denied(rt, activity, seeker: Person, advisor: Person) -> None:
    entries = leaves(rt)
    summary = [(e["actor"]["id"], e["action"], e["decision"]) for e in entries]
    assert (seeker.id, "dossier:identity:write", "allow") in summary
    assert (advisor.id, "dossier:dossier:read", "allow") in summary
    assert (activity.id, "dossier:dossier:read", "deny") in summary
    assert (advisor.id, "dossier:activities:read", "deny") in summary
    read = next(e for e in entries if e["actor"]["id"] == advisor.id and e["action"] == "dossier:dossier:read")
    assert read["subject"] == seeker.subject_id and read["purposes"] == ["dossier.public_task"]
    assert "identity.name" in read["categories"] and read["request_id"]
    assert read["actor"]["role"] == "advisor"
    assert [e["leaf_index"] for e in entries] == list(range(len(entries)))


def test_entries_hold_no_personal_data(rt, activity) -> None:
    sequence(rt)
    with rt.engine.connect() as conn:
        blobs = b"".join(conn.execute(select(audit_leaves.c.canonical)).scalars())
    assert MARKER.encode() not in blobs and len(blobs) > 0


def test_verify_passes_on_an_intact_log_and_keeps_a_witness(rt, cli, activity) -> None:
    result = cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "OK:" in result.output
    assert (rt.settings.instance_path / "audit-witness.json").is_file()


def _tamper(rt, how: str) -> None:  # type: ignore[no-untyped-def]
    sequence(rt)
    with rt.engine.begin() as conn:
        rows = conn.execute(select(audit_leaves).order_by(audit_leaves.c.leaf_index)).all()
        victim = rows[1]
        if how == "alter":
            changed = victim.canonical.replace(b'"allow"', b'"deny"').replace(b'"deny"', b'"allow"', 0)
            conn.execute(update(audit_leaves).where(audit_leaves.c.leaf_index == 1).values(canonical=changed))
        elif how == "alter-with-hash":
            changed = victim.canonical.replace(b"dossier:", b"dossieR:")
            conn.execute(update(audit_leaves).where(audit_leaves.c.leaf_index == 1)
                         .values(canonical=changed, leaf_hash=leaf_hash(changed)))
        elif how == "delete":
            conn.execute(delete(audit_leaves).where(audit_leaves.c.leaf_index == 1))
        elif how == "reorder":
            a, b = rows[1], rows[2]
            conn.execute(update(audit_leaves).where(audit_leaves.c.leaf_index == 1).values(canonical=b.canonical, leaf_hash=b.leaf_hash))
            conn.execute(update(audit_leaves).where(audit_leaves.c.leaf_index == 2).values(canonical=a.canonical, leaf_hash=a.leaf_hash))
        elif how == "insert":
            # Shift every later entry up by one and slip a forged one in at index 1.
            forged = rows[0].canonical.replace(b'"deny"', b'"allow"').replace(b"dossier:", b"forged:")
            for row in reversed(rows[1:]):
                conn.execute(update(audit_leaves).where(audit_leaves.c.leaf_index == row.leaf_index)
                             .values(leaf_index=row.leaf_index + 1))
            conn.execute(audit_leaves.insert().values(leaf_index=1, leaf_hash=leaf_hash(forged), canonical=forged,
                                                      subject_ref=None, at=rows[0].at))
            conn.execute(update(audit_tree).values(size=len(rows) + 1))


@pytest.mark.parametrize("how", ["alter", "alter-with-hash", "delete", "reorder", "insert"])
def test_tampering_is_detected_by_verify_and_the_standalone_verifier(rt, cli, client, activity, tmp_path: Path, how: str) -> None:
    assert cli("audit", "verify").exit_code == 0  # signs a checkpoint over the intact log
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(client.get("/.well-known/jwks.json").get_json()))
    _tamper(rt, how)
    result = cli("audit", "verify")
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output
    if how == "alter":
        assert "leaf 1" in result.output
    export = tmp_path / "audit.jsonl"
    assert cli("audit", "export", str(export)).exit_code == 0
    assert verifier_main([str(export), "--jwks", str(jwks)]) == 1


def test_a_rollback_is_detected(rt, cli, client, activity, seeker: Person, tmp_path: Path) -> None:
    """Restore an older copy of the database: the log is consistent with itself, not with what was seen."""
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("restoring a file copy is how this test rolls back; the PostgreSQL run covers truncation below")
    database = Path(rt.engine.url.database or "")
    assert cli("audit", "verify").exit_code == 0
    rt.engine.dispose()
    with rt.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    rt.engine.dispose()
    shutil.copyfile(database, tmp_path / "old.sqlite3")
    client.get(base(seeker) + "/dossier", headers=seeker.auth)
    assert cli("audit", "verify").exit_code == 0  # the witness moves forward
    checkpoint = (rt.settings.instance_path / "audit-witness.json").read_text()
    rt.engine.dispose()
    shutil.copyfile(tmp_path / "old.sqlite3", database)
    result = cli("audit", "verify")
    assert result.exit_code == 1 and "rolled back" in result.output
    export, kept, jwks = tmp_path / "audit.jsonl", tmp_path / "kept.jws", tmp_path / "jwks.json"
    kept.write_text(json.loads(checkpoint)["jws"])
    jwks.write_text(json.dumps(client.get("/.well-known/jwks.json").get_json()))
    cli("audit", "export", str(export))
    assert verifier_main([str(export), "--jwks", str(jwks)]) == 0  # consistent with itself...
    assert verifier_main([str(export), "--jwks", str(jwks), "--trusted-checkpoint", str(kept)]) == 1  # ...not with the past


def test_truncating_the_log_and_its_checkpoints_is_detected(rt, cli, activity) -> None:
    assert cli("audit", "verify").exit_code == 0
    with rt.engine.begin() as conn:
        size = conn.execute(select(audit_tree.c.size)).scalar_one()
        conn.execute(delete(audit_leaves).where(audit_leaves.c.leaf_index >= size - 2))
        conn.execute(delete(audit_checkpoints))
        conn.execute(update(audit_tree).values(size=size - 2))
    result = cli("audit", "verify")
    assert result.exit_code == 1 and "rolled back" in result.output


def test_the_export_verifies_standalone(rt, cli, client, activity, tmp_path: Path, capsys) -> None:
    export, jwks = tmp_path / "audit.jsonl", tmp_path / "jwks.json"
    client.get("/api/v1/audit/checkpoint", headers={"Authorization": f"Bearer {rt.tokens.issue(activity.id, 'advisor')}"})
    assert cli("audit", "export", str(export)).exit_code == 0
    jwks.write_text(json.dumps(client.get("/.well-known/jwks.json").get_json()))
    assert verifier_main([str(export), "--jwks", str(jwks)]) == 0
    lines = export.read_text().splitlines()
    entry = json.loads(lines[2])
    entry["entry"] = entry["entry"].replace("allow", "deny")
    lines[2] = json.dumps(entry, ensure_ascii=False)
    export.write_text("\n".join(lines) + "\n")
    assert verifier_main([str(export), "--jwks", str(jwks)]) == 1
    assert "leaf 1" in capsys.readouterr().out


def test_the_standalone_verifier_needs_nothing_of_the_service() -> None:
    source = (Path(__file__).resolve().parents[2] / "audit" / "verifier.py").read_text()
    imports = [line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert {name.split(".")[0] for name in imports} <= {"__future__", "argparse", "base64", "hashlib", "json", "sys",
                                                         "collections", "dataclasses", "datetime", "typing", "cryptography", "audit"}
    # Of this project, only the signed-note format, itself the standard library and cryptography alone.
    assert [line for line in source.splitlines() if line.startswith(("import audit", "from audit"))] == ["from audit import note"]
    note_source = (Path(__file__).resolve().parents[2] / "audit" / "note.py").read_text()
    note_imports = [line.split()[1] for line in note_source.splitlines() if line.startswith(("import ", "from "))]
    assert {name.split(".")[0] for name in note_imports} <= {"__future__", "base64", "binascii", "hashlib", "re", "collections",
                                                              "dataclasses", "typing", "cryptography"}


def auditor_headers(make_person) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_person(Role.AUDITOR).auth


def test_the_auditor_filters_and_pages_entries(client, make_person, activity, seeker: Person, advisor: Person) -> None:
    headers = auditor_headers(make_person)
    page = client.get("/api/v1/audit/entries?limit=2", headers=headers).get_json()
    assert len(page["entries"]) == 2 and page["next_after"] == 1
    assert all(len(e["leaf_hash"]) == 64 for e in page["entries"])
    rest = client.get(f"/api/v1/audit/entries?after={page['next_after']}&limit=1000", headers=headers).get_json()
    assert rest["entries"][0]["leaf_index"] == 2 and rest["next_after"] is None
    denied = client.get("/api/v1/audit/entries?decision=deny", headers=headers).get_json()["entries"]
    assert denied and all(e["decision"] == "deny" for e in denied)
    mine = client.get(f"/api/v1/audit/entries?actor={advisor.id}", headers=headers).get_json()["entries"]
    assert mine and all(e["actor"]["id"] == advisor.id for e in mine)
    about = client.get(f"/api/v1/audit/entries?subject={seeker.subject_id}&since=2000-01-01T00:00:00Z", headers=headers).get_json()
    assert about["entries"] and all(e["subject"] == seeker.subject_id for e in about["entries"])
    assert client.get("/api/v1/audit/entries?decision=maybe", headers=headers).status_code == 422


@pytest.mark.parametrize("role", [Role.SEEKER, Role.ADVISOR, Role.EMPLOYER, Role.ADMIN])
def test_only_auditors_read_the_log(client, make_person, role: Role) -> None:
    assert client.get("/api/v1/audit/entries", headers=make_person(role).auth).status_code == 403
    assert client.get("/api/v1/audit/proofs/consistency?first=1&second=1", headers=make_person(role).auth).status_code == 403


def test_checkpoints_and_proofs_verify_with_the_published_key(client, make_person, activity, seeker: Person) -> None:
    headers = auditor_headers(make_person)
    first = client.get("/api/v1/audit/checkpoint", headers=headers).get_json()
    client.get(base(seeker) + "/dossier", headers=seeker.auth)
    second = client.get("/api/v1/audit/checkpoint", headers=headers).get_json()
    assert second["tree_size"] > first["tree_size"]
    jwks = client.get("/.well-known/jwks.json").get_json()
    payload = verify_checkpoint(second["jws"], jwks)
    assert payload == {k: second[k] for k in ("tree_size", "root_hash", "timestamp")}
    assert KeySet.import_key_set(jwks).get_by_kid(
        json.loads(__import__("base64").urlsafe_b64decode(second["jws"].split(".")[0] + "=="))["kid"])
    proof = client.get(f"/api/v1/audit/proofs/consistency?first={first['tree_size']}&second={second['tree_size']}",
                       headers=headers).get_json()
    assert verify_consistency(first["tree_size"], second["tree_size"], bytes.fromhex(first["root_hash"]),
                              bytes.fromhex(second["root_hash"]), [bytes.fromhex(h) for h in proof["hashes"]])
    entries = client.get("/api/v1/audit/entries?limit=1000", headers=headers).get_json()["entries"]
    for entry in entries[: second["tree_size"]]:
        inclusion = client.get(f"/api/v1/audit/proofs/inclusion?leaf_index={entry['leaf_index']}&tree_size={second['tree_size']}",
                               headers=headers).get_json()
        assert verify_inclusion(bytes.fromhex(entry["leaf_hash"]), entry["leaf_index"], second["tree_size"],
                                [bytes.fromhex(h) for h in inclusion["hashes"]], bytes.fromhex(second["root_hash"]))
    too_big = client.get(f"/api/v1/audit/proofs/inclusion?leaf_index=0&tree_size={second['tree_size'] + 100}", headers=headers)
    assert too_big.status_code == 422


def test_the_seeker_sees_who_accessed_their_data(client, rt, activity, seeker: Person, advisor: Person) -> None:
    log = client.get(base(seeker) + "/access-log", headers=seeker.auth)
    assert log.status_code == 200
    items = log.get_json()["entries"]
    reads = [i for i in items if i["action"] == "dossier:dossier:read"]
    by_advisor = next(i for i in reads if i["actor_role"] == "advisor" and i["decision"] == "allow")
    assert by_advisor["actor"] == advisor.username and by_advisor["purpose"] == "dossier.public_task"
    assert "identity.name" in by_advisor["categories"]
    denied = next(i for i in reads if i["decision"] == "deny")
    assert denied["actor_role"] == "advisor" and denied["reason"] == "no_relation"
    # An inclusion proof of one of their own entries, against a checkpoint they fetch themselves.
    checkpoint = client.get("/api/v1/audit/checkpoint", headers=seeker.auth).get_json()
    proof = client.get(f"/api/v1/audit/proofs/inclusion?leaf_index={by_advisor['leaf_index']}&tree_size={checkpoint['tree_size']}",
                       headers=seeker.auth)
    assert proof.status_code == 200
    with rt.engine.connect() as conn:
        canonical = conn.execute(select(audit_leaves.c.canonical).where(audit_leaves.c.leaf_index == by_advisor["leaf_index"])).scalar_one()
    assert verify_inclusion(leaf_hash(canonical), by_advisor["leaf_index"], checkpoint["tree_size"],
                            [bytes.fromhex(h) for h in proof.get_json()["hashes"]], bytes.fromhex(checkpoint["root_hash"]))


def test_a_seeker_gets_no_proof_of_someone_elses_entry(client, make_person, activity, seeker: Person) -> None:
    other = make_person(Role.SEEKER)
    mine = client.get(base(seeker) + "/access-log", headers=seeker.auth).get_json()["entries"][0]["leaf_index"]
    size = client.get("/api/v1/audit/checkpoint", headers=other.auth).get_json()["tree_size"]
    assert client.get(f"/api/v1/audit/proofs/inclusion?leaf_index={mine}&tree_size={size}", headers=other.auth).status_code == 404
    assert client.get(base(seeker) + "/access-log", headers=other.auth).status_code == 404


def test_after_erasure_entries_still_verify_and_only_auditors_read_them(client, cli, make_person, activity, seeker: Person) -> None:
    assert client.delete(base(seeker), headers=seeker.auth).status_code == 204
    assert client.get(base(seeker) + "/access-log", headers=seeker.auth).status_code == 401
    admin = make_person(Role.ADMIN)
    assert client.get(base(seeker) + "/access-log", headers=admin.auth).status_code == 403
    headers = auditor_headers(make_person)
    about = client.get(f"/api/v1/audit/entries?subject={seeker.subject_id}", headers=headers).get_json()["entries"]
    assert any(e["action"] == "dossier:subject:erase" for e in about)
    assert cli("audit", "verify").exit_code == 0


def test_queued_entries_wait_for_the_sequencer(rt, client, seeker: Person) -> None:
    client.get(base(seeker) + "/dossier", headers=seeker.auth)
    with rt.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_queue)).scalar_one() >= 1
    assert sequence(rt) >= 1
    with rt.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_queue)).scalar_one() == 0


def test_lookups_are_recorded_allowed_or_denied(rt, client, make_person, seeker: Person, advisor: Person) -> None:
    identity = {**IDENTITY, "national_id": "85.07.30-033.28"}
    assert client.put(base(seeker) + "/identity", json=identity, headers=seeker.auth).status_code == 200
    stranger = make_person(Role.ADVISOR)
    for person in (advisor, stranger):
        client.post("/api/v1/seekers/lookup", json={"national_id": "85073003328"}, headers=person.auth)
    lookups = [e for e in leaves(rt) if e["action"] == "dossier:subject:lookup"]
    assert {(e["actor"]["id"], e["decision"]) for e in lookups} == {(advisor.id, "allow"), (stranger.id, "deny")}
    assert all(e["subject"] == seeker.subject_id and e["categories"] in (["identity.national_id"], []) for e in lookups)


def test_every_sequencing_pass_signs_what_it_added_and_nothing_else(rt, client, seeker: Person) -> None:
    from audit import store as audit_store

    def integrate() -> int:
        with rt.transaction() as conn:
            return audit_store.integrate(conn, rt.signing, rt.clock(), batch=2)

    def sizes() -> list[int]:
        with rt.engine.connect() as conn:
            return list(conn.execute(select(audit_checkpoints.c.tree_size).order_by(audit_checkpoints.c.tree_size)).scalars())

    while integrate():
        pass
    before = sizes()
    for _ in range(5):
        client.get(base(seeker) + "/dossier", headers=seeker.auth)
    size = before[-1] if before else 0
    assert [integrate(), integrate(), integrate(), integrate()] == [2, 2, 1, 0]
    # No leaf is left for a later signature: each pass signed the tree it made, the empty pass nothing.
    assert sizes() == before + [size + 2, size + 4, size + 5]


def test_one_background_sequencer_works_for_the_instance(rt, client, seeker: Person) -> None:
    import time

    from audit.sequencer import start_background_sequencer

    first, second = start_background_sequencer(rt, 0.02), start_background_sequencer(rt, 0.02)
    assert first is not None and second is not None
    try:
        for _ in range(5):
            client.get(base(seeker) + "/dossier", headers=seeker.auth)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with rt.engine.connect() as conn:
                if conn.execute(select(func.count()).select_from(audit_queue)).scalar_one() == 0:
                    break
            time.sleep(0.02)
        with rt.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(audit_queue)).scalar_one() == 0
            assert conn.execute(select(func.count()).select_from(audit_leaves)).scalar_one() >= 5
        assert first.leading != second.leading  # exactly one holds the lock
    finally:
        first.stop()
        second.stop()
    assert start_background_sequencer(rt, 0) is None

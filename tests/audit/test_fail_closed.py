"""Stand-alone verification fails closed: what no verified signed checkpoint covers does not pass,
the export is covered and private, and a key verifies only what it is published for."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from audit.merkle import leaf_hash
from audit.verifier import main as verifier_main
from audit.verifier import verify_log
from tests.audit.test_audit_log import activity  # noqa: F401 - the fixture: some allowed and denied accesses

REWRITE = ("dossier:", "dossieR:")


def exported(cli, client, tmp_path: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    export, jwks = tmp_path / "audit.jsonl", tmp_path / "jwks.json"
    assert cli("audit", "export", str(export)).exit_code == 0
    jwks.write_text(json.dumps(client.get("/.well-known/jwks.json").get_json()))
    return export, jwks


def rewrite(export: Path, *, keep_checkpoints: bool) -> None:
    """Rewrite the last entry (its hash recomputed), and drop the checkpoint lines unless kept."""
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    entries = [item for item in lines if "entry" in item]
    last = entries[-1]
    last["entry"] = last["entry"].replace(*REWRITE)
    last["leaf_hash"] = leaf_hash(last["entry"].encode()).hex()
    kept = [item for item in lines if keep_checkpoints or "checkpoint" not in item]
    export.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in kept))


@pytest.mark.usefixtures("activity")
def test_the_export_is_covered_by_a_checkpoint_and_private(cli, client, tmp_path: Path, capsys) -> None:
    export, jwks = exported(cli, client, tmp_path)
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    assert verifier_main([str(export), "--jwks", str(jwks)]) == 0
    assert "checkpoints verified" in capsys.readouterr().out


@pytest.mark.usefixtures("activity")
def test_an_export_without_its_checkpoints_and_an_entry_rewritten_fails(cli, client, tmp_path: Path, capsys) -> None:
    export, jwks = exported(cli, client, tmp_path)
    rewrite(export, keep_checkpoints=False)
    assert verifier_main([str(export), "--jwks", str(jwks)]) == 1
    assert "no verified signed checkpoint covers the entries from leaf 0 on" in capsys.readouterr().out


@pytest.mark.usefixtures("activity")
def test_a_rewritten_entry_under_a_checkpoint_fails(cli, client, tmp_path: Path, capsys) -> None:
    export, jwks = exported(cli, client, tmp_path)
    rewrite(export, keep_checkpoints=True)
    assert verifier_main([str(export), "--jwks", str(jwks)]) == 1
    assert "does not match the log" in capsys.readouterr().out


def test_entries_after_the_last_checkpoint_fail() -> None:
    entries = [(i, f'{{"n":{i}}}'.encode(), None) for i in range(3)]
    report = verify_log(iter(entries), [], {"keys": []})
    assert not report.ok and report.first_bad_entry == 0 and "no verified signed checkpoint" in report.problem
    assert verify_log(iter([]), [], {"keys": []}).ok  # an empty log claims nothing


@pytest.mark.usefixtures("activity")
def test_a_key_verifies_only_what_it_is_published_for(cli, client, tmp_path: Path, capsys) -> None:
    export, jwks = exported(cli, client, tmp_path)
    keys = json.loads(jwks.read_text())
    for key in keys["keys"]:
        if key["dossier_use"] == "checkpoint":
            key["dossier_use"] = "token"  # the same key, published for another use
    jwks.write_text(json.dumps(keys))
    assert verifier_main([str(export), "--jwks", str(jwks)]) == 1
    assert "not published for checkpoints" in capsys.readouterr().out

"""The seeker's saved access log proves itself complete: `python -m audit.verifier --access-log` passes
on the list as served, and fails, naming what, when an entry about them was hidden in the database
or the saved file was edited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from audit.merkle import leaf_hash
from audit.models import audit_leaves, audit_subject_chains, audit_tree
from audit.service import sequence
from audit.verifier import ACCESS_LOG_READ
from audit.verifier import main as verifier_main
from core.identity.roles import Role
from tests.audit.test_audit_log import activity, base  # noqa: F401 - the fixture: some allowed and denied accesses
from tests.conftest import Person

DOSSIER_READ = "dossier:dossier:read"


def save(client, person: Person, path: Path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """GET the seeker's access log as the seeker, save it whole, and return it."""
    response = client.get(base(person) + "/access-log", headers=person.auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    document = response.get_json()
    assert response.headers["X-Request-Id"] == document["request_id"]
    path.write_text(json.dumps(document))
    return document


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def jwks(client, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(client.get("/.well-known/jwks.json").get_json()))
    return path


@pytest.fixture
def check(jwks: Path, capsys):  # type: ignore[no-untyped-def]
    """Run the seeker's check on a saved file: (exit code, what it printed)."""

    def run(path: Path, previous: Path | None = None) -> tuple[int, str]:
        capsys.readouterr()
        code = verifier_main(["--access-log", str(path), "--jwks", str(jwks), *(["--previous", str(previous)] if previous else [])])
        return code, capsys.readouterr().out

    return run


def tree_size(rt) -> int:  # type: ignore[no-untyped-def]
    sequence(rt)
    with rt.engine.connect() as conn:
        size: int = conn.execute(select(audit_tree.c.size)).scalar_one()
    return size


def pad_to_block(rt, client, other: Person) -> None:  # type: ignore[no-untyped-def]
    """Entries about another seeker until the tree's size is a multiple of 16, so that the next
    entry starts a stored subtree of its own (proofs of the seeker's other entries use its stored hash)."""
    while tree_size(rt) % 16:
        assert client.get(base(other) + "/dossier", headers=other.auth).status_code == 200


@pytest.fixture
def other(make_person) -> Person:  # type: ignore[no-untyped-def]
    return make_person(Role.SEEKER)


@pytest.fixture
def victim(rt, client, activity, seeker: Person, advisor: Person, other: Person) -> dict[str, Any]:  # noqa: F811
    """One advisor read about the seeker, alone among entries about another seeker in its block of 16,
    returns its leaf row as the database holds it."""
    pad_to_block(rt, client, other)
    assert client.get(base(seeker) + "/dossier", headers=advisor.auth).status_code == 200
    index = tree_size(rt) - 1
    pad_to_block(rt, client, other)
    with rt.engine.connect() as conn:
        row = conn.execute(select(audit_leaves).where(audit_leaves.c.leaf_index == index)).one()
    assert json.loads(row.canonical)["action"] == DOSSIER_READ and row.subject_ref == seeker.subject_id
    return dict(row._mapping)


def listed(document: dict[str, Any], row: dict[str, Any]) -> bool:
    return any(e["leaf_index"] == row["leaf_index"] and e["leaf"] == bytes(row["canonical"]).decode() for e in document["entries"])


# -- as served ------------------------------------------------------------------------------------


def test_the_saved_access_log_verifies_and_ends_with_its_own_read(client, activity, seeker: Person, check, tmp_path: Path) -> None:  # noqa: F811
    document = save(client, seeker, tmp_path / "log.json")
    own = json.loads(document["entries"][-1]["leaf"])
    assert (own["action"], own["request_id"], own["subject"]) == (ACCESS_LOG_READ, document["request_id"], seeker.subject_id)
    assert any(e["action"] == DOSSIER_READ and e["actor_role"] == "advisor" for e in document["entries"])
    code, out = check(tmp_path / "log.json")
    assert code == 0, out
    assert f"OK: {len(document['entries'])} entries about {seeker.subject_id}" in out


def test_a_seeker_with_many_entries_verifies(client, seeker: Person, advisor: Person, check, tmp_path: Path) -> None:
    for _ in range(40):
        assert client.get(base(seeker) + "/dossier", headers=advisor.auth).status_code == 200
    document = save(client, seeker, tmp_path / "log.json")
    assert sum(e["action"] == DOSSIER_READ and e["actor_role"] == "advisor" for e in document["entries"]) == 40
    assert check(tmp_path / "log.json") == (0, f"OK: {len(document['entries'])} entries about {seeker.subject_id}, complete up "
                                                f"to this read, in the signed tree of {document['checkpoint']['tree_size']} entries\n")


def test_an_earlier_list_that_is_a_prefix_passes_as_previous(client, activity, seeker: Person, advisor: Person, check,  # noqa: F811
                                                             tmp_path: Path) -> None:
    earlier = save(client, seeker, tmp_path / "earlier.json")
    client.get(base(seeker) + "/dossier", headers=advisor.auth)
    later = save(client, seeker, tmp_path / "later.json")
    assert len(later["entries"]) == len(earlier["entries"]) + 2  # the advisor's read and this read
    assert check(tmp_path / "later.json", tmp_path / "earlier.json")[0] == 0


# -- hidden in the database -----------------------------------------------------------------------


def test_an_entry_given_to_another_seeker_in_the_database_fails_the_seekers_check(
        rt, client, seeker: Person, other: Person, victim: dict[str, Any], check, tmp_path: Path) -> None:
    with rt.engine.begin() as conn:
        conn.execute(update(audit_leaves).where(audit_leaves.c.leaf_index == victim["leaf_index"]).values(subject_ref=other.subject_id))
    document = save(client, seeker, tmp_path / "log.json")
    assert not listed(document, victim)
    code, out = check(tmp_path / "log.json")
    assert code == 1 and "entries about you were left out" in out, out


def test_an_entry_deleted_from_the_database_fails_the_seekers_check(
        rt, client, seeker: Person, victim: dict[str, Any], check, tmp_path: Path) -> None:
    with rt.engine.begin() as conn:
        conn.execute(delete(audit_leaves).where(audit_leaves.c.leaf_index == victim["leaf_index"]))
    document = save(client, seeker, tmp_path / "log.json")
    assert not listed(document, victim)
    code, out = check(tmp_path / "log.json")
    assert code == 1 and "entries about you were left out" in out, out


def _with_subject(canonical: bytes, old: str, new: str) -> bytes:
    return canonical.replace(f'"subject":"{old}"'.encode(), f'"subject":"{new}"'.encode())


CHANGES = {
    "subject_ref to another seeker": lambda row, s, o, size: {"subject_ref": o},
    "subject_ref to null": lambda row, s, o, size: {"subject_ref": None},
    "canonical about another seeker, hash kept": lambda row, s, o, size: {"canonical": _with_subject(bytes(row["canonical"]), s, o)},
    "leaf_index beyond the tree": lambda row, s, o, size: {"leaf_index": size + 1000},
    "leaf_index negative": lambda row, s, o, size: {"leaf_index": -1},
    "canonical about another seeker, hash recomputed": lambda row, s, o, size: {
        "canonical": (c := _with_subject(bytes(row["canonical"]), s, o)), "leaf_hash": leaf_hash(c)},
    "canonical read as another action, hash recomputed": lambda row, s, o, size: {
        "canonical": (c := bytes(row["canonical"]).replace(DOSSIER_READ.encode(), b"dossier:contacts:read")), "leaf_hash": leaf_hash(c)},
    "leaf_hash": lambda row, s, o, size: {"leaf_hash": bytes(32)},
}


@pytest.mark.parametrize("change", CHANGES)
def test_hiding_one_access_by_any_single_change_to_the_database_is_detected_by_the_seekers_check(
        rt, client, seeker: Person, other: Person, victim: dict[str, Any], check, tmp_path: Path, change: str) -> None:
    values = CHANGES[change](victim, seeker.subject_id, other.subject_id, tree_size(rt))
    with rt.engine.begin() as conn:
        conn.execute(update(audit_leaves).where(audit_leaves.c.leaf_index == victim["leaf_index"]).values(**values))
    response = client.get(base(seeker) + "/access-log", headers=seeker.auth)
    if response.status_code != 200:
        return  # the service refused to answer over a tampered tree: nothing is shown as complete
    document = response.get_json()
    code, out = check(write(tmp_path / "log.json", document))
    assert listed(document, victim) or code == 1, f"{change}: the access is missing and the check passed: {out}"


# -- the saved file edited ------------------------------------------------------------------------


@pytest.fixture
def saved(client, seeker: Person, advisor: Person, tmp_path: Path) -> dict[str, Any]:
    """A saved list: an advisor's reads, then the seeker's read of the list."""
    for _ in range(3):
        assert client.get(base(seeker) + "/dossier", headers=advisor.auth).status_code == 200
    return save(client, seeker, tmp_path / "log.json")


def _advisor_reads(document: dict[str, Any]) -> list[int]:
    return [i for i, e in enumerate(document["entries"]) if e["action"] == DOSSIER_READ]


def remove_entry(document: dict[str, Any]) -> None:
    del document["entries"][_advisor_reads(document)[1]]


def reorder_two(document: dict[str, Any]) -> None:
    a, b = _advisor_reads(document)[:2]
    entries = document["entries"]
    entries[a], entries[b] = entries[b], entries[a]


def change_decision(document: dict[str, Any]) -> None:
    document["entries"][_advisor_reads(document)[0]]["decision"] = "deny"


def change_leaf_byte(document: dict[str, Any]) -> None:
    entry = document["entries"][_advisor_reads(document)[0]]
    entry["leaf"] = entry["leaf"].replace('"decision":"allow"', '"decision":"allOw"')


def swap_inclusion(document: dict[str, Any]) -> None:
    a, b = (document["entries"][i] for i in _advisor_reads(document)[:2])
    a["inclusion"], b["inclusion"] = b["inclusion"], a["inclusion"]


def change_purpose(document: dict[str, Any]) -> None:
    document["entries"][_advisor_reads(document)[0]]["purpose"] = "dossier.marketing"


def change_actor_role(document: dict[str, Any]) -> None:
    document["entries"][_advisor_reads(document)[0]]["actor_role"] = "seeker"


def drop_own_read(document: dict[str, Any]) -> None:
    document["entries"].pop()


EDITS = [
    pytest.param(remove_entry, "entries about you were left out", id="remove an entry"),
    pytest.param(reorder_two, "entries about you were left out", id="reorder two"),
    pytest.param(change_decision, "shows a decision its hashed bytes do not say", id="change the shown decision"),
    pytest.param(change_actor_role, "shows a actor_role its hashed bytes do not say", id="change the shown actor role"),
    pytest.param(change_purpose, "shows a purpose its hashed bytes do not say", id="change the shown purpose"),
    pytest.param(change_leaf_byte, "is not in the signed tree", id="change a leaf byte"),
    pytest.param(swap_inclusion, "is not in the signed tree", id="swap the inclusion paths"),
    pytest.param(drop_own_read, "does not contain the entry of the read that produced it", id="drop the read's own entry"),
]


@pytest.mark.parametrize(("how", "message"), EDITS)
def test_an_edited_saved_list_fails_naming_what(saved: dict[str, Any], check, tmp_path: Path, how, message: str) -> None:  # type: ignore[no-untyped-def]
    assert check(tmp_path / "log.json")[0] == 0
    how(saved)
    code, out = check(write(tmp_path / "edited.json", saved))
    assert code == 1 and "FAILED" in out and message in out, out


def test_an_older_checkpoint_in_place_of_the_signed_one_fails(client, seeker: Person, advisor: Person, check, tmp_path: Path) -> None:
    older = save(client, seeker, tmp_path / "older.json")
    client.get(base(seeker) + "/dossier", headers=advisor.auth)
    document = save(client, seeker, tmp_path / "log.json")
    document["checkpoint"]["jws"] = older["checkpoint"]["jws"]
    code, out = check(write(tmp_path / "edited.json", document))
    assert code == 1 and f"is not in the signed tree of {older['checkpoint']['tree_size']} entries" in out, out


def test_an_older_list_replayed_as_the_new_one_fails_against_the_previous(client, seeker: Person, advisor: Person, check,
                                                                           tmp_path: Path) -> None:
    save(client, seeker, tmp_path / "older.json")
    client.get(base(seeker) + "/dossier", headers=advisor.auth)
    newer = save(client, seeker, tmp_path / "newer.json")
    assert check(tmp_path / "older.json")[0] == 0  # on its own, the older answer is a complete list of its time
    code, out = check(tmp_path / "older.json", tmp_path / "newer.json")
    assert code == 1 and "of the earlier list is missing or changed in this one" in out, out
    assert f"leaf {newer['entries'][-2]['leaf_index']}" in out



def test_an_access_hidden_with_its_chain_row_too_is_caught_by_audit_verify(
        rt, cli, client, seeker: Person, other: Person, victim: dict[str, Any], tmp_path: Path) -> None:
    """Two changes: the leaf given to another seeker, and the seeker's chain row set back to before it."""
    chain = json.loads(victim["canonical"])["chain"]
    with rt.engine.begin() as conn:
        conn.execute(update(audit_leaves).where(audit_leaves.c.leaf_index == victim["leaf_index"]).values(subject_ref=other.subject_id))
        conn.execute(update(audit_subject_chains).where(audit_subject_chains.c.subject_ref == seeker.subject_id)
                     .values(entries=chain["n"], last_index=chain["prev"]))
    assert not listed(save(client, seeker, tmp_path / "log.json"), victim)
    result = cli("audit", "verify")
    assert result.exit_code == 1 and f"leaf {victim['leaf_index']}" in result.output, result.output

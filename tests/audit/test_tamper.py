"""Someone with write access to the database alters the audit log: each change is detected.

For every column of every table that holds the tree (leaves, stored nodes, the size, the kept
checkpoints and their notes, the subjects' chains) and for the witness file: alter, delete,
insert, reorder; `dossier audit verify` must fail on each, on SQLite and on PostgreSQL. What the
database cannot prove alone (the queue before sequencing, a deleted cosignature) is stated in
docs/audit.md. The seeker's own check of the same attacks is in test_access_log_proof.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from audit.merkle import leaf_hash
from audit.models import audit_checkpoints, audit_leaves, audit_nodes, audit_subject_chains, audit_tree
from audit.service import WITNESS_FILE, verify
from core.models import as_utc
from tests.audit.test_audit_log import activity, base  # noqa: F401 - the fixture: some allowed and denied accesses
from tests.conftest import Person

Tamper = Callable[[Connection], None]


@pytest.fixture
def logged(rt, client, activity, seeker: Person, advisor: Person):  # type: ignore[no-untyped-def]  # noqa: F811
    """A verified log of some sixty entries: stored nodes at levels 4 and 5, several checkpoints."""
    for _round in range(3):
        for _ in range(20):
            assert client.get(base(seeker) + "/dossier", headers=advisor.auth).status_code == 200
        assert client.get("/api/v1/audit/checkpoint", headers=seeker.auth).status_code == 200
    report = verify(rt)
    assert report.ok, report.problem
    return rt


def _leaf(conn: Connection, index: int) -> Any:
    return conn.execute(select(audit_leaves).where(audit_leaves.c.leaf_index == index)).one()


def _size(conn: Connection) -> int:
    size: int = conn.execute(select(audit_tree.c.size)).scalar_one()
    return size


def _about_a_subject(conn: Connection) -> int:
    index: int = conn.execute(select(audit_leaves.c.leaf_index).where(audit_leaves.c.subject_ref.is_not(None))
                              .order_by(audit_leaves.c.leaf_index.desc()).limit(1).offset(3)).scalar_one()
    return index


def _set_leaf(**values: Any) -> Tamper:
    def tamper(conn: Connection) -> None:
        conn.execute(update(audit_leaves).where(audit_leaves.c.leaf_index == _about_a_subject(conn)).values(**values))
    return tamper


def _rewrite_entry(conn: Connection) -> None:
    index = _about_a_subject(conn)
    canonical = bytes(_leaf(conn, index).canonical).replace(b'"decision":"allow"', b'"decision":"deny"')
    conn.execute(update(audit_leaves).where(audit_leaves.c.leaf_index == index)
                 .values(canonical=canonical, leaf_hash=leaf_hash(canonical)))


def _shift_time(conn: Connection) -> None:
    index = _about_a_subject(conn)
    later = as_utc(_leaf(conn, index).at) + timedelta(days=1)
    conn.execute(update(audit_leaves).where(audit_leaves.c.leaf_index == index).values(at=later))


def _append_leaf(bump_size: bool) -> Tamper:
    def tamper(conn: Connection) -> None:
        size, model = _size(conn), _leaf(conn, 0)
        canonical = bytes(model.canonical).replace(b'"decision":"allow"', b'"decision":"deny"')
        conn.execute(insert(audit_leaves).values(leaf_index=size, leaf_hash=leaf_hash(canonical), canonical=canonical,
                                                 subject_ref=model.subject_ref, at=model.at, chain_n=model.chain_n,
                                                 chain_prev=model.chain_prev))
        if bump_size:
            conn.execute(update(audit_tree).values(size=size + 1))
    return tamper


def _swap_leaves(conn: Connection) -> None:
    first, second = _leaf(conn, 10), _leaf(conn, 11)
    for index, row in ((10, second), (11, first)):
        conn.execute(update(audit_leaves).where(audit_leaves.c.leaf_index == index).values(
            leaf_hash=row.leaf_hash, canonical=row.canonical, subject_ref=row.subject_ref, at=row.at, chain_n=row.chain_n,
            chain_prev=row.chain_prev))


def _move_leaf(conn: Connection) -> None:
    conn.execute(update(audit_leaves).where(audit_leaves.c.leaf_index == 7).values(leaf_index=_size(conn) + 5))


def _node(conn: Connection, level: int = 4) -> tuple[int, int]:
    return conn.execute(select(audit_nodes.c.level, audit_nodes.c.index).where(audit_nodes.c.level == level)
                        .order_by(audit_nodes.c.index).limit(1)).one()


def _set_node(**values: Any) -> Tamper:
    def tamper(conn: Connection) -> None:
        level, index = _node(conn)
        conn.execute(update(audit_nodes).where(audit_nodes.c.level == level, audit_nodes.c.index == index).values(**values))
    return tamper


def _delete_node(conn: Connection) -> None:
    level, index = _node(conn, 5)
    conn.execute(delete(audit_nodes).where(audit_nodes.c.level == level, audit_nodes.c.index == index))


def _insert_node(level: int) -> Tamper:
    def tamper(conn: Connection) -> None:
        conn.execute(insert(audit_nodes).values(level=level, index=(_size(conn) >> level) + 3, hash=b"\x07" * 32))
    return tamper


def _swap_nodes(conn: Connection) -> None:
    rows = conn.execute(select(audit_nodes).where(audit_nodes.c.level == 4).order_by(audit_nodes.c.index).limit(2)).all()
    for row, other in ((rows[0], rows[1]), (rows[1], rows[0])):
        conn.execute(update(audit_nodes).where(audit_nodes.c.level == 4, audit_nodes.c.index == row.index).values(hash=other.hash))


def _checkpoints(conn: Connection) -> list[Any]:
    return conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.tree_size)).all()


def _set_checkpoint(which: int, **values: Any) -> Tamper:
    def tamper(conn: Connection) -> None:
        row = _checkpoints(conn)[which]
        conn.execute(update(audit_checkpoints).where(audit_checkpoints.c.tree_size == row.tree_size).values(**values))
    return tamper


def _swap_checkpoint_signatures(conn: Connection) -> None:
    older, latest = _checkpoints(conn)[-2:]
    conn.execute(update(audit_checkpoints).where(audit_checkpoints.c.tree_size == latest.tree_size).values(jws=older.jws))


def _forge_signature(conn: Connection) -> None:
    latest = _checkpoints(conn)[-1]
    header, payload, signature = latest.jws.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    conn.execute(update(audit_checkpoints).where(audit_checkpoints.c.tree_size == latest.tree_size)
                 .values(jws=f"{header}.{payload}.{flipped}"))


def _alter_note(conn: Connection) -> None:
    latest = _checkpoints(conn)[-1]
    lines = latest.note.split("\n")
    lines[1] = str(int(lines[1]) + 1)
    conn.execute(update(audit_checkpoints).where(audit_checkpoints.c.tree_size == latest.tree_size).values(note="\n".join(lines)))


def _insert_checkpoint(conn: Connection) -> None:
    latest = _checkpoints(conn)[-1]
    conn.execute(insert(audit_checkpoints).values(tree_size=latest.tree_size + 1000, jws=latest.jws, note=latest.note))


def _delete_latest_checkpoint(conn: Connection) -> None:
    conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.tree_size == _checkpoints(conn)[-1].tree_size))


def _chain_row(conn: Connection) -> Any:
    return conn.execute(select(audit_subject_chains).order_by(audit_subject_chains.c.entries.desc()).limit(1)).one()


def _set_chain(**change: Callable[[Any], Any]) -> Tamper:
    def tamper(conn: Connection) -> None:
        row = _chain_row(conn)
        conn.execute(update(audit_subject_chains).where(audit_subject_chains.c.subject_ref == row.subject_ref)
                     .values(**{name: f(row) for name, f in change.items()}))
    return tamper


def _delete_chain(conn: Connection) -> None:
    conn.execute(delete(audit_subject_chains).where(audit_subject_chains.c.subject_ref == _chain_row(conn).subject_ref))


def _insert_chain(conn: Connection) -> None:
    conn.execute(insert(audit_subject_chains).values(subject_ref=str(uuid.uuid4()), entries=3, last_index=2))


def _roll_back(conn: Connection) -> None:
    """A consistent rollback to an earlier checkpoint: leaves, nodes, size, chains and checkpoints,
    as a restored backup would be; only the witness file remembers the later checkpoint."""
    earlier = _checkpoints(conn)[-2].tree_size
    conn.execute(delete(audit_leaves).where(audit_leaves.c.leaf_index >= earlier))
    conn.execute(delete(audit_nodes).where((audit_nodes.c.index + 1).op("<<")(audit_nodes.c.level) > earlier))
    conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.tree_size > earlier))
    conn.execute(update(audit_tree).values(size=earlier))
    conn.execute(delete(audit_subject_chains))
    rows = conn.execute(select(audit_leaves.c.subject_ref, audit_leaves.c.leaf_index).where(audit_leaves.c.subject_ref.is_not(None))
                        .order_by(audit_leaves.c.leaf_index)).all()
    chains: dict[str, tuple[int, int]] = {}
    for subject, index in rows:
        chains[subject] = (chains.get(subject, (0, 0))[0] + 1, index)
    for subject, (count, last) in chains.items():
        conn.execute(insert(audit_subject_chains).values(subject_ref=subject, entries=count, last_index=last))


TAMPERS: dict[str, Tamper] = {
    # audit_leaves, every column
    "leaf: leaf_hash altered": _set_leaf(leaf_hash=b"\x00" * 32),
    "leaf: canonical rewritten, hash recomputed": _rewrite_entry,
    "leaf: subject_ref given to another seeker": _set_leaf(subject_ref=str(uuid.uuid4())),
    "leaf: subject_ref removed": _set_leaf(subject_ref=None),
    "leaf: chain_n altered": _set_leaf(chain_n=0),
    "leaf: chain_n removed": _set_leaf(chain_n=None),
    "leaf: chain_prev altered": _set_leaf(chain_prev=1),
    "leaf: chain_prev removed": _set_leaf(chain_prev=None),
    "leaf: at altered": _shift_time,
    "leaf: leaf_index moved": _move_leaf,
    "leaf: deleted": lambda conn: conn.execute(delete(audit_leaves).where(audit_leaves.c.leaf_index == 5)),
    "leaf: appended, size untouched": _append_leaf(bump_size=False),
    "leaf: appended, size raised": _append_leaf(bump_size=True),
    "leaf: two reordered": _swap_leaves,
    # audit_nodes, every column
    "node: hash altered": _set_node(hash=b"\x01" * 32),
    "node: level altered": _set_node(level=9),
    "node: index altered": _set_node(index=40),
    "node: deleted": _delete_node,
    "node: inserted beyond the tree": _insert_node(4),
    "node: inserted below the stored levels": _insert_node(2),
    "node: two reordered": _swap_nodes,
    # audit_tree
    "tree: size raised": lambda conn: conn.execute(update(audit_tree).values(size=audit_tree.c.size + 1)),
    "tree: size lowered": lambda conn: conn.execute(update(audit_tree).values(size=audit_tree.c.size - 1)),
    "tree: size set to 10**12": lambda conn: conn.execute(update(audit_tree).values(size=10**12)),
    # audit_checkpoints, every column
    "checkpoint: latest tree_size set to 10**12": _set_checkpoint(-1, tree_size=10**12),
    "checkpoint: an older tree_size altered": _set_checkpoint(0, tree_size=999_999),
    "checkpoint: jws of an older one": _swap_checkpoint_signatures,
    "checkpoint: jws signature forged": _forge_signature,
    "checkpoint: note altered": _alter_note,
    "checkpoint: note removed": _set_checkpoint(-1, note=None),
    "checkpoint: inserted": _insert_checkpoint,
    "checkpoint: latest deleted": _delete_latest_checkpoint,
    # audit_subject_chains, every column
    "chain: entries altered": _set_chain(entries=lambda row: row.entries - 1),
    "chain: last_index altered": _set_chain(last_index=lambda row: row.last_index - 1),
    "chain: subject_ref altered": _set_chain(subject_ref=lambda row: str(uuid.uuid4())),
    "chain: deleted": _delete_chain,
    "chain: inserted": _insert_chain,
    # everything at once, as a restored backup
    "rollback to an earlier checkpoint": _roll_back,
}


@pytest.mark.parametrize("name", TAMPERS)
def test_each_change_to_the_stored_log_fails_verification(logged, name: str) -> None:
    with logged.engine.begin() as conn:
        TAMPERS[name](conn)
    report = verify(logged)
    assert not report.ok, f"{name}: verification passed"
    assert report.problem


@pytest.mark.parametrize("name", ["leaf: subject_ref given to another seeker", "tree: size set to 10**12",
                                  "checkpoint: latest tree_size set to 10**12", "leaf: appended, size raised"])
def test_after_a_change_nothing_more_is_signed_and_the_cli_names_it(logged, cli, client, seeker: Person, advisor: Person,
                                                                    name: str) -> None:
    with logged.engine.connect() as conn:
        before = len(_checkpoints(conn))
    with logged.engine.begin() as conn:
        TAMPERS[name](conn)
    assert client.get(base(seeker) + "/dossier", headers=advisor.auth).status_code == 200
    result = cli("audit", "verify")
    assert result.exit_code == 1 and "FAILED" in result.output
    with logged.engine.connect() as conn:
        after = _checkpoints(conn)
    # The read after the change is queued, not signed over a tree that no longer matches its checkpoint.
    if name != "leaf: subject_ref given to another seeker":  # a column alone does not stop the sequencer; verify names it
        assert len(after) == before


@pytest.mark.parametrize("change", ["garbage", "another checkpoint"])
def test_a_changed_witness_file_fails_verification(logged, change: str) -> None:
    path = logged.settings.instance_path / WITNESS_FILE
    witness = json.loads(path.read_text())
    if change == "garbage":
        witness["jws"] = witness["jws"][:-4] + "AAAA"
    else:
        with logged.engine.connect() as conn:
            older = _checkpoints(conn)[0]
        header, payload, signature = witness["jws"].split(".")
        witness["jws"] = ".".join([header, older.jws.split(".")[1], signature])
    path.write_text(json.dumps(witness))
    assert not verify(logged).ok


def test_an_untouched_log_still_verifies_after_more_entries(logged, client, seeker: Person, advisor: Person) -> None:
    # The control: the same steps without a change pass, so the cases above fail because of the change.
    for _ in range(5):
        client.get(base(seeker) + "/dossier", headers=advisor.auth)
    report = verify(logged)
    assert report.ok, report.problem

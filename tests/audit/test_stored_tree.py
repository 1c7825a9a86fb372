"""The tree as the database holds it: leaves, and complete subtrees of 16 leaves or more.

Proofs read from the stored tree must equal those of the in-memory RFC 9162 reference at every
size, although small subtrees are hashed again from their leaves; and migration 0004 (which
dropped the small subtrees) must round-trip.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import func, select

from audit import store
from audit.entries import Entry
from audit.merkle import consistency_path, inclusion_path, root_hash
from audit.models import audit_leaves, audit_nodes
from core.db import alembic_config
from tests.audit.test_merkle_proofs import ref_mth, ref_path, ref_subproof

SIZE = 75  # past 64, so that the frontier holds subtrees of every stored and unstored level


def _entry(i: int) -> Entry:
    return Entry(at=datetime(2026, 12, 1, tzinfo=UTC), actor_id=None, actor_role="admin", client_id=None,
                 subject_ref=None, action="test:entry:append", purposes=(), categories=(), decision="allow",
                 reason=f"entry {i}", request_id=None)


@pytest.fixture
def stored(rt):  # type: ignore[no-untyped-def]
    """SIZE entries sequenced in uneven batches, so that each batch starts from a stored frontier."""
    for start, stop in ((0, 1), (1, 6), (6, 23), (23, 40), (40, SIZE)):
        with rt.transaction() as conn:
            for i in range(start, stop):
                store.append(conn, _entry(i))
        with rt.transaction() as conn:
            store.integrate(conn, rt.signing, rt.clock(), batch=7)
            while store.integrate(conn, rt.signing, rt.clock(), batch=7):
                pass
    with rt.engine.connect() as conn:
        canonical = list(conn.execute(select(audit_leaves.c.canonical).order_by(audit_leaves.c.leaf_index)).scalars())
    return canonical


@pytest.fixture
def reference(stored, monkeypatch):  # type: ignore[no-untyped-def]
    """The reference of test_merkle_proofs, over the stored entries instead of its own."""
    import tests.audit.test_merkle_proofs as module

    monkeypatch.setattr(module, "LEAVES", stored)
    ref_mth.cache_clear()
    yield module
    ref_mth.cache_clear()


def test_only_subtrees_of_sixteen_leaves_or_more_are_stored(rt, stored) -> None:
    with rt.engine.connect() as conn:
        levels = dict(conn.execute(select(audit_nodes.c.level, func.count()).group_by(audit_nodes.c.level)).all())
    assert levels == {4: SIZE // 16, 5: SIZE // 32, 6: SIZE // 64}


def test_proofs_from_the_stored_tree_match_the_reference_at_every_size(rt, reference) -> None:
    with rt.engine.connect() as conn:
        read = store.subtree_reader(conn)
        for size in range(1, SIZE + 1):
            assert root_hash(read, size) == ref_mth(0, size), size
            for index in range(size):
                assert inclusion_path(read, index, size) == ref_path(index, 0, size), (index, size)
            for first in range(1, size):
                assert consistency_path(read, first, size) == ref_subproof(first, 0, size, True), (first, size)


def test_a_missing_leaf_is_an_error_not_a_wrong_hash(rt, stored) -> None:
    with rt.engine.begin() as conn:
        conn.execute(audit_leaves.delete().where(audit_leaves.c.leaf_index == 70))
    with rt.engine.connect() as conn, pytest.raises(LookupError):
        root_hash(store.subtree_reader(conn), SIZE)


def test_migration_0004_round_trips_the_small_subtrees(rt, reference) -> None:
    with rt.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0003")
    with rt.engine.connect() as conn:
        small = {(lv, i): h for lv, i, h in conn.execute(
            select(audit_nodes.c.level, audit_nodes.c.index, audit_nodes.c.hash).where(audit_nodes.c.level < store.STORED_LEVEL))}
    # Every complete subtree of 1 to 8 leaves is back, with the reference's hash.
    assert set(small) == {(lv, i) for lv in range(store.STORED_LEVEL) for i in range(SIZE >> lv)}
    assert all(h == ref_mth(i << lv, (i + 1) << lv) for (lv, i), h in small.items())
    with rt.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    with rt.engine.connect() as conn:
        remaining = select(func.count()).select_from(audit_nodes).where(audit_nodes.c.level < store.STORED_LEVEL)
        assert conn.execute(remaining).scalar_one() == 0
        assert root_hash(store.subtree_reader(conn), SIZE) == ref_mth(0, SIZE)

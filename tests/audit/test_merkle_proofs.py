"""Proofs at every tree size from 1 to 300 against an independent reference, and corrupted proofs.

The reference below follows the text of RFC 9162 sections 2.1.1, 2.1.3.1 and 2.1.4.1 literally,
on lists of leaves; the service builds proofs from stored subtree hashes instead.
"""

from __future__ import annotations

import functools
import hashlib

import pytest

from audit.merkle import Frontier, consistency_path, inclusion_path, leaf_hash, root_hash
from audit.verifier import verify_consistency, verify_inclusion

MAX_SIZE = 300


LEAVES = [f"entry {i}".encode() for i in range(MAX_SIZE)]


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@functools.cache
def ref_mth(lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) of LEAVES, as RFC 9162 section 2.1.1 defines it."""
    n = hi - lo
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + LEAVES[lo]).digest()
    k = _k(n)
    return hashlib.sha256(b"\x01" + ref_mth(lo, lo + k) + ref_mth(lo + k, hi)).digest()


def ref_path(m: int, lo: int, hi: int) -> list[bytes]:
    """PATH(m, D[lo:hi]), section 2.1.3.1."""
    n = hi - lo
    if n <= 1:
        return []
    k = _k(n)
    if m < k:
        return ref_path(m, lo, lo + k) + [ref_mth(lo + k, hi)]
    return ref_path(m - k, lo + k, hi) + [ref_mth(lo, lo + k)]


def ref_subproof(m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[lo:hi], b), section 2.1.4.1."""
    n = hi - lo
    if m == n:
        return [] if whole else [ref_mth(lo, hi)]
    k = _k(n)
    if m <= k:
        return ref_subproof(m, lo, lo + k, whole) + [ref_mth(lo + k, hi)]
    return ref_subproof(m - k, lo + k, hi, False) + [ref_mth(lo, lo + k)]


@pytest.fixture(scope="module")
def tree() -> tuple[list[bytes], dict[tuple[int, int], bytes]]:
    leaves = LEAVES
    frontier, nodes = Frontier(0, []), {}
    for leaf in leaves:
        for level, index, digest in frontier.append(leaf_hash(leaf)):
            nodes[(level, index)] = digest
    return leaves, nodes


def test_roots_inclusion_and_consistency_at_every_size(tree) -> None:  # type: ignore[no-untyped-def]
    leaves, nodes = tree
    read = lambda level, index: nodes[(level, index)]
    for n in range(1, MAX_SIZE + 1):
        root = root_hash(read, n)
        assert root == ref_mth(0, n)
        for m in range(n):
            path = inclusion_path(read, m, n)
            assert path == ref_path(m, 0, n)
            assert verify_inclusion(leaf_hash(leaves[m]), m, n, path, root)
        for m in range(1, n + 1):
            proof = consistency_path(read, m, n)
            assert proof == (ref_subproof(m, 0, n, True) if m < n else [])
            assert verify_consistency(m, n, ref_mth(0, m), root, proof)


def flipped(h: bytes) -> bytes:
    return bytes([h[0] ^ 0x01]) + h[1:]


@pytest.mark.parametrize(("index", "size"), [(0, 1), (0, 2), (5, 8), (6, 7), (13, 300), (299, 300), (128, 129)])
def test_corrupted_inclusion_proofs_are_refused(tree, index: int, size: int) -> None:  # type: ignore[no-untyped-def]
    leaves, nodes = tree
    read = lambda level, i: nodes[(level, i)]
    root, leaf = root_hash(read, size), leaf_hash(leaves[index])
    path = inclusion_path(read, index, size)
    assert verify_inclusion(leaf, index, size, path, root)
    # The corruptions of transparency-dev/merkle's proof tests: wrong index, wrong size (doubled,
    # halved), truncated, extended, flipped bits.
    bad = [
        (leaf, index + 1, size, path, root),
        (leaf, index - 1, size, path, root),
        (leaf, index ^ 2, size, path, root),
        (leaf, index, size * 2, path, root),
        (leaf, index, size // 2, path, root),
        (leaf, index, size, path + [root], root),
        (leaf, index, size, [path[0], *path] if path else [root], root),
        (flipped(leaf), index, size, path, root),  # flipped bits
        (leaf, index, size, path, flipped(root)),
    ]
    if path:
        bad += [(leaf, index, size, path[:-1], root), (leaf, index, size, [flipped(path[0]), *path[1:]], root)]
    for case in bad:
        assert not verify_inclusion(*case), case[1:3]


@pytest.mark.parametrize(("first", "second"), [(1, 2), (1, 8), (3, 7), (4, 8), (6, 8), (7, 300), (128, 300), (299, 300)])
def test_corrupted_consistency_proofs_are_refused(tree, first: int, second: int) -> None:  # type: ignore[no-untyped-def]
    leaves, nodes = tree
    read = lambda level, i: nodes[(level, i)]
    r1, r2 = root_hash(read, first), root_hash(read, second)
    proof = consistency_path(read, first, second)
    assert verify_consistency(first, second, r1, r2, proof)
    bad = [
        (first - 1, second, r1, r2, proof),  # wrong sizes
        (first + 1, second, r1, r2, proof),
        (first ^ 2, second, r1, r2, proof),
        (first, second * 2, r1, r2, proof),
        (first, second // 2, r1, r2, proof),
        (first, second, r1, r2, proof[:-1]),  # truncated
        (first, second, r1, r2, proof + [r1]),  # extended
        (first, second, flipped(r1), r2, proof),  # flipped bits
        (first, second, r1, flipped(r2), proof),
        (first, second, r1, r2, [flipped(proof[0]), *proof[1:]]),
        (first, second, r2, r1, proof),  # roots swapped
    ]
    for case in bad:
        assert not verify_consistency(*case), case[:2]

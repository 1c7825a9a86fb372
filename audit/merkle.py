"""RFC 9162 Merkle tree hashing and proofs (sections 2.1.1 to 2.1.4).

Leaves hash as ``SHA-256(0x00 || entry)``, nodes as ``SHA-256(0x01 || left || right)``. Proofs are
built from the hashes of complete subtrees, read through ``subtree``: a tree of n leaves needs
O(log n) of them, so nothing is recomputed from all the leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

Hash = bytes
# subtree(level, index): the hash of the complete subtree of 2**level leaves from index * 2**level.
SubtreeReader = Callable[[int, int], Hash]


EMPTY_ROOT: Hash = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> Hash:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: Hash, right: Hash) -> Hash:
    return hashlib.sha256(b"\x01" + left + right).digest()


def complete_subtree_hash(leaves: list[Hash]) -> Hash:
    """MTH of 2**k leaf hashes (a complete subtree), pairing neighbours level by level."""
    level = leaves
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_hash(subtree: SubtreeReader, start: int, end: int) -> Hash:
    """MTH(D[start:end]) for a range the RFC's recursion produces."""
    size = end - start
    if size & (size - 1) == 0 and start % size == 0:
        return subtree(size.bit_length() - 1, start // size)
    k = largest_power_of_two_below(size)
    return node_hash(range_hash(subtree, start, start + k), range_hash(subtree, start + k, end))


def root_hash(subtree: SubtreeReader, size: int) -> Hash:
    if size == 0:
        return EMPTY_ROOT
    return range_hash(subtree, 0, size)


def inclusion_path(subtree: SubtreeReader, index: int, size: int) -> list[Hash]:
    """PATH(index, D[size]) of RFC 9162 section 2.1.3.1, leaf side first."""
    path: list[Hash] = []

    def walk(m: int, start: int, end: int) -> None:
        if end - start <= 1:
            return
        k = largest_power_of_two_below(end - start)
        if m < k:
            walk(m, start, start + k)
            path.append(range_hash(subtree, start + k, end))
        else:
            walk(m - k, start + k, end)
            path.append(range_hash(subtree, start, start + k))

    walk(index, 0, size)
    return path


def consistency_path(subtree: SubtreeReader, first: int, second: int) -> list[Hash]:
    """PROOF(first, D[second]) of RFC 9162 section 2.1.4.1."""
    proof: list[Hash] = []

    def sub(m: int, start: int, end: int, whole: bool) -> None:
        n = end - start
        if m == n:
            if not whole:
                proof.append(range_hash(subtree, start, end))
            return
        k = largest_power_of_two_below(n)
        if m <= k:
            sub(m, start, start + k, whole)
            proof.append(range_hash(subtree, start + k, end))
        else:
            sub(m - k, start + k, end, False)
            proof.append(range_hash(subtree, start, start + k))

    if 0 < first < second:
        sub(first, 0, second, True)
    return proof


class Frontier:
    """The roots of the complete subtrees that cover the leaves so far, largest first.

    Appending a leaf merges equal-sized roots, as binary addition carries; every merge is a new
    complete subtree, reported so that it can be stored.
    """

    def __init__(self, size: int, roots: Iterable[Hash]) -> None:
        self.size = size
        self.roots = list(roots)

    def append(self, leaf: Hash) -> list[tuple[int, int, Hash]]:
        """Add a leaf; return every new complete subtree as (level, index, hash)."""
        index = self.size
        created = [(0, index, leaf)]
        self.roots.append(leaf)
        level = 0
        while (index + 1) % (2 << level) == 0:
            right = self.roots.pop()
            left = self.roots.pop()
            merged = node_hash(left, right)
            level += 1
            self.roots.append(merged)
            created.append((level, index >> level, merged))
        self.size += 1
        return created

    def root(self) -> Hash:
        if not self.roots:
            return EMPTY_ROOT
        result = self.roots[-1]
        for left in reversed(self.roots[:-1]):
            result = node_hash(left, result)
        return result


def positions_read(read: Callable[[SubtreeReader], object]) -> set[tuple[int, int]]:
    """The (level, index) of every complete subtree ``read`` asks for: a proof's shape depends only
    on the indices and sizes, so the subtrees can be fetched together before it is built."""
    asked: set[tuple[int, int]] = set()

    def record(level: int, index: int) -> Hash:
        asked.add((level, index))
        return EMPTY_ROOT

    read(record)
    return asked


def frontier_positions(size: int) -> list[tuple[int, int]]:
    """(level, index) of the complete subtrees a tree of ``size`` leaves is made of, largest first."""
    positions = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size & (1 << level):
            positions.append((level, start >> level))
            start += 1 << level
    return positions

"""Inverted lists: for each code (an occupation, a skill, a language), the index rows that hold it.

A compressed-sparse-row block built in bulk (one stable sort of every posting by code), plus the
postings added since, per code; ``compact`` folds those into the block and drops rows that are
gone. Each posting carries a small number (months of experience in an occupation, a language's
level). Within each code, rows are in increasing order: rows are numbered in the order they are
added, the block holds the older ones and the added lists the newer ones.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

import numpy as np

_EMPTY_ROWS = np.empty(0, np.int32)
_EMPTY_VALUES = np.empty(0, np.int16)
VALUE_MAX = 32767
# A batch with at least this share of the block's postings is merged into the block (one sort)
# rather than added code by code.
MERGE_RATIO = 0.25


class _Ids(dict[str, int]):
    """Code -> id; a new code gets the next id when first looked up with ``[]``."""

    def __missing__(self, code: str) -> int:
        found = self[code] = len(self)
        return found


class Postings:
    def __init__(self) -> None:
        self.ids: dict[str, int] = _Ids()
        self._ptr = np.zeros(1, np.int64)
        self._rows = _EMPTY_ROWS
        self._values = _EMPTY_VALUES
        self._added_rows: dict[int, array[int]] = {}
        self._added_values: dict[int, array[int]] = {}
        self.added = 0

    def _id(self, code: str) -> int:
        return self.ids[code]

    def add(self, row: int, pairs: Iterable[tuple[str, int]]) -> None:
        """Postings of one row added since the last build: (code, value) pairs."""
        for code, value in pairs:
            code_id = self.ids[code]
            self._added_rows.setdefault(code_id, array("i")).append(row)
            self._added_values.setdefault(code_id, array("h")).append(min(value, VALUE_MAX))
            self.added += 1

    def extend(self, rows: np.ndarray, codes: np.ndarray, values: np.ndarray) -> None:
        """Postings of many rows, each newer than every row already held, in increasing row order:
        ``codes`` are ids from ``ids``; values are cut to ``VALUE_MAX`` as ``add`` cuts them."""
        if not len(codes):
            return
        values = np.minimum(values, VALUE_MAX).astype(np.int16)
        rows = rows.astype(np.int32, copy=False)
        codes = codes.astype(np.int64, copy=False)
        if len(codes) >= MERGE_RATIO * len(self._rows):
            # Into the block: the block, the added lists, then the batch keep each code's rows in order.
            old_codes, old_rows, old_values = self._parts()
            self._build(np.concatenate([old_codes, codes]), np.concatenate([old_rows, rows]), np.concatenate([old_values, values]))
            return
        order = np.argsort(codes, kind="stable")
        codes, rows, values = codes[order], rows[order], values[order]
        starts = np.flatnonzero(np.diff(codes, prepend=-1))
        ends = np.append(starts[1:], len(codes))
        for code_id, start, end in zip(codes[starts].tolist(), starts.tolist(), ends.tolist(), strict=True):
            self._added_rows.setdefault(code_id, array("i")).frombytes(rows[start:end].tobytes())
            self._added_values.setdefault(code_id, array("h")).frombytes(values[start:end].tobytes())
        self.added += len(codes)

    def get(self, code: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, values) of ``code``; rows that are gone are still listed until ``compact``."""
        code_id = self.ids.get(code)
        if code_id is None:
            return _EMPTY_ROWS, _EMPTY_VALUES
        rows, values = _EMPTY_ROWS, _EMPTY_VALUES
        if code_id + 1 < len(self._ptr):
            start, end = self._ptr[code_id], self._ptr[code_id + 1]
            rows, values = self._rows[start:end], self._values[start:end]
        added = self._added_rows.get(code_id)
        if added is not None:
            rows = np.concatenate([rows, np.frombuffer(added, np.int32)])
            values = np.concatenate([values, np.frombuffer(self._added_values[code_id], np.int16)])
        return rows, values

    def get_rows(self, code: str) -> np.ndarray:
        """The rows of ``code`` (as ``get``, without the values)."""
        code_id = self.ids.get(code)
        if code_id is None:
            return _EMPTY_ROWS
        rows = _EMPTY_ROWS
        if code_id + 1 < len(self._ptr):
            rows = self._rows[self._ptr[code_id]:self._ptr[code_id + 1]]
        added = self._added_rows.get(code_id)
        if added is not None:
            rows = np.concatenate([rows, np.frombuffer(added, np.int32)])
        return rows

    def _parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(codes, rows, values) of every posting: the block, then the added lists code by code."""
        code_parts = [np.repeat(np.arange(len(self._ptr) - 1, dtype=np.int64), np.diff(self._ptr))]
        row_parts, value_parts = [self._rows], [self._values]
        for code_id, added in self._added_rows.items():
            code_parts.append(np.full(len(added), code_id, np.int64))
            row_parts.append(np.frombuffer(added, np.int32))
            value_parts.append(np.frombuffer(self._added_values[code_id], np.int16))
        return np.concatenate(code_parts), np.concatenate(row_parts), np.concatenate(value_parts)

    def compact(self, keep: np.ndarray | None = None) -> None:
        """Fold the added postings into the block; with ``keep`` (new row number of each old row,
        -1 for a row that is gone, increasing), renumber rows and drop those gone."""
        if keep is None and not self.added:
            return
        codes, rows, values = self._parts()
        if keep is not None:
            rows = keep[rows]
            alive = rows >= 0
            codes, rows, values = codes[alive], rows[alive].astype(np.int32), values[alive]
        self._build(codes, rows, values)

    def _build(self, codes: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
        """The block from postings whose rows increase within each code, in the order given: a
        stable sort by code keeps them so (a radix sort when the ids fit in 16 bits)."""
        key = codes.astype(np.uint16) if len(self.ids) <= 1 << 16 else codes
        order = np.argsort(key, kind="stable")
        self._rows, self._values = rows[order].astype(np.int32), values[order].astype(np.int16)
        counts = np.bincount(codes, minlength=len(self.ids)) if len(codes) else np.zeros(len(self.ids), np.int64)
        self._ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._added_rows, self._added_values, self.added = {}, {}, 0

    @property
    def size(self) -> int:
        return len(self._rows) + self.added

    @property
    def nbytes(self) -> int:
        return int(self._ptr.nbytes + self._rows.nbytes + self._values.nbytes) + self.added * 6

"""The matching index: every published profile as rows of numpy arrays and inverted lists.

One row per profile. Scalars (position, mobility, availability, contract and licence masks,
education level, which categories an advisor validated) are arrays indexed by row; occupations,
skills and languages are inverted lists (``Postings``). A changed profile gets a new row and its old
row is marked gone; ``compact`` renumbers when gone rows pile up. A search narrows to the rows of
the occupation (or the skills), filters them with array operations, scores the survivors and
explains the page it returns (``plugins.matching.scoring``).

Not thread-safe: the plugin holds its lock around every use.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import operator
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np

from plugins.api import CONTRACT_TYPES, LICENCES, WORKING_TIME, Place, locate
from plugins.matching.document import CATEGORY_FLAGS
from plugins.matching.postings import Postings

FLAGS: dict[str, int] = {flag: 1 << bit for bit, flag in enumerate(sorted(set(CATEGORY_FLAGS.values())))}
CONTRACT_BITS = {name: 1 << bit for bit, name in enumerate(CONTRACT_TYPES)}
WORKING_BITS = {name: 1 << bit for bit, name in enumerate(WORKING_TIME)}
LICENCE_BITS = {name: 1 << bit for bit, name in enumerate(LICENCES)}
NO_DATE = 0
# Compact once this share of the rows is gone, or the postings added since the last build are this
# share of the block (a rebuild costs about a second per million profiles).
COMPACT_RATIO = 0.25
COMPACT_MINIMUM = 10_000
# A batch of at least this many documents is taken in one pass (``_put_many``), a smaller one by ``put``.
BULK_MINIMUM = 64
# Rows of a pool are looked up in a code's postings (a binary search each) rather than the postings
# marked in a scratch array once the postings are this many times longer than the pool.
LOOKUP_RATIO = 4
# A union of postings this many times smaller than the index is sorted; a larger one is marked.
UNION_RATIO = 16
# The fields of a document that the index reads (plugins.matching.document).
_FIELDS = ("occupations", "experience", "skills", "languages", "postal_code", "mobility_km", "available_from", "contract_types",
           "working_time", "licences", "education", "validated")


def mask(bits: Mapping[str, int], names: Iterable[str]) -> int:
    value = 0
    for name in names:
        value |= bits.get(name, 0)
    return value


def day_number(iso: str | None) -> int:
    return date.fromisoformat(iso).toordinal() if iso else NO_DATE


def tiebreak(pseudonym: str) -> float:
    """A number in [0, 1) fixed by the pseudonym: equal scores rank the same in every process."""
    return int.from_bytes(hashlib.blake2b(pseudonym.encode(), digest_size=7).digest(), "big") / 2 ** 56


class ProfileIndex:
    """The published profiles of one process, kept current from the plugin's store."""

    _ARRAYS: dict[str, tuple[Any, Any]] = {
        "live": (np.bool_, False), "tiebreak": (np.float64, 0.0),
        "latitude": (np.float32, np.nan), "longitude": (np.float32, np.nan), "mobility_km": (np.float32, np.inf),
        "available": (np.int32, NO_DATE), "contracts": (np.uint8, 0), "working": (np.uint8, 0),
        "licences": (np.uint16, 0), "education": (np.int8, -1), "validated": (np.uint16, 0),
        "present": (np.uint16, 0),  # the categories the profile has a value for (FLAGS)
        "place": (np.int16, -1),  # the number of its postal code's place (``place_positions``), -1 for none
    }

    def __init__(self, capacity: int = 1024) -> None:
        self.row_of: dict[str, int] = {}
        self.pseudonyms: list[str] = []
        self.occupations = Postings()
        self.skills = Postings()
        self.languages = Postings()
        self.arrays: dict[str, np.ndarray] = {}
        # The places of the postal codes seen, by number: a row's distance is its place's.
        self.place_numbers: dict[str, int] = {}
        self._place_positions: list[tuple[float, float]] = []
        self._place_arrays: tuple[np.ndarray, np.ndarray] | None = None
        self._allocate(capacity)

    # -- size -----------------------------------------------------------------------------------

    @property
    def rows(self) -> int:
        """Rows in use, gone ones included."""
        return len(self.pseudonyms)

    def __len__(self) -> int:
        return len(self.row_of)

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays and lists (the dictionaries of pseudonyms and codes not counted)."""
        return sum(int(a.nbytes) for a in self.arrays.values()) + sum(
            p.nbytes for p in (self.occupations, self.skills, self.languages))

    def _allocate(self, capacity: int) -> None:
        for name, (dtype, fill) in self._ARRAYS.items():
            grown = np.full(capacity, fill, dtype)
            old = self.arrays.get(name)
            if old is not None:
                grown[: len(old)] = old
            self.arrays[name] = grown
        self.scratch_values = np.zeros(capacity, np.float32)
        self.scratch_numbers = np.zeros(capacity, np.int32)
        self.scratch_marks = np.zeros(capacity, np.bool_)

    # -- changes --------------------------------------------------------------------------------

    def apply(self, changed: Iterable[tuple[str, Mapping[str, Any]]], removed: Iterable[str]) -> None:
        """Take what the store's change feed reports: new versions of documents, and those gone."""
        # NOTE: the cyclic collector is paused while a batch is taken (a first build takes a million
        # documents): the documents are new containers, held by the caller until this returns, and
        # each collection would traverse them all again; what this makes holds no cycle.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for pseudonym in removed:
                self.remove(pseudonym)
            batch = changed if isinstance(changed, Sequence) else list(changed)
            if len(batch) < BULK_MINIMUM:
                for pseudonym, document in batch:
                    self.put(pseudonym, document)
            else:
                self._put_many(batch)
            self._compact_if_due()
        finally:
            if collecting:
                gc.enable()

    def remove(self, pseudonym: str) -> bool:
        row = self.row_of.pop(pseudonym, None)
        if row is None:
            return False
        self.arrays["live"][row] = False
        return True

    def put(self, pseudonym: str, document: Mapping[str, Any]) -> None:
        self.remove(pseudonym)
        row = len(self.pseudonyms)
        if row >= len(self.arrays["live"]):
            self._allocate(max(1024, row * 2))
        self.pseudonyms.append(pseudonym)
        self.row_of[pseudonym] = row
        a = self.arrays
        a["live"][row] = True
        a["tiebreak"][row] = tiebreak(pseudonym)
        place = locate(document.get("postal_code"))
        a["latitude"][row] = place.latitude if place else np.nan
        a["longitude"][row] = place.longitude if place else np.nan
        a["place"][row] = self._place_number(place)
        mobility = document.get("mobility_km")
        a["mobility_km"][row] = np.inf if mobility is None else float(mobility)
        a["available"][row] = day_number(document.get("available_from"))
        a["contracts"][row] = mask(CONTRACT_BITS, document.get("contract_types") or ())
        a["working"][row] = mask(WORKING_BITS, document.get("working_time") or ())
        a["licences"][row] = mask(LICENCE_BITS, document.get("licences") or ())
        education = document.get("education")
        a["education"][row] = -1 if education is None else int(education)
        a["validated"][row] = mask(FLAGS, document.get("validated") or ())
        experience = document.get("experience") or {}
        counts = [np.array([len(value or ())]) for value in (document.get("occupations"), document.get("skills"),
                                                             document.get("languages"), experience)]
        a["present"][row:row + 1] = self._present(row, row + 1, *counts)
        self.occupations.add(row, ((code, int(experience.get(code, 0))) for code in document.get("occupations") or ()))
        self.skills.add(row, ((code, 0) for code in document.get("skills") or ()))
        self.languages.add(row, (document.get("languages") or {}).items())

    def _put_many(self, batch: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """``put`` of every (pseudonym, document) of ``batch``, in order: the same rows, arrays and
        postings, each field read for the whole batch at once and each array assigned once."""
        start, count = self.rows, len(batch)
        end = start + count
        if end > len(self.arrays["live"]):
            self._allocate(max(1024, end * 5 // 4))
        names = [pseudonym for pseudonym, _ in batch]
        # Every field of every document in one pass (one look at each document), then by field.
        try:
            read = operator.itemgetter(*_FIELDS)
            fields = [read(document) for _, document in batch]
        except KeyError:  # a document without some field: None for it, as ``put`` reads it
            fields = [tuple(document.get(key) for key in _FIELDS) for _, document in batch]
        field = dict(zip(_FIELDS, zip(*fields, strict=True), strict=True))
        del fields
        # The rows: a pseudonym already held (or twice in the batch) leaves its older row gone.
        row_of = self.row_of
        replaced = [row for row in map(row_of.get, names) if row is not None]
        row_of.update(zip(names, range(start, end), strict=True))
        if len(set(names)) < count:
            replaced += [row for row, pseudonym in enumerate(names, start) if row_of[pseudonym] != row]
        self.pseudonyms.extend(names)
        a = self.arrays
        a["live"][start:end] = True
        a["live"][replaced] = False
        blake2b, from_bytes = hashlib.blake2b, int.from_bytes
        a["tiebreak"][start:end] = [from_bytes(blake2b(p.encode(), digest_size=7).digest(), "big") / 2 ** 56 for p in names]
        # Positions: each postal code located once, its place numbered in the order first met.
        seen: dict[Any, int] = {}
        which = [seen.setdefault(code, len(seen)) for code in field["postal_code"]]
        located = [locate(code) for code in seen]
        a["latitude"][start:end] = np.array([p.latitude if p else np.nan for p in located], np.float32)[which]
        a["longitude"][start:end] = np.array([p.longitude if p else np.nan for p in located], np.float32)[which]
        a["place"][start:end] = np.array([self._place_number(p) for p in located], np.int16)[which]
        inf = np.inf
        a["mobility_km"][start:end] = [inf if value is None else float(value) for value in field["mobility_km"]]
        days: dict[Any, int] = {}
        a["available"][start:end] = [days[iso] if iso in days else days.setdefault(iso, day_number(iso)) for iso in field["available_from"]]
        for name, vocabulary, key in (("contracts", CONTRACT_BITS, "contract_types"), ("working", WORKING_BITS, "working_time"),
                                      ("licences", LICENCE_BITS, "licences"), ("validated", FLAGS, "validated")):
            masks: dict[tuple[Any, ...], int] = {}
            a[name][start:end] = [masks[names_] if names_ in masks else masks.setdefault(names_, mask(vocabulary, names_))
                                  for names_ in [tuple(value or ()) for value in field[key]]]
        a["education"][start:end] = [-1 if level is None else int(level) for level in field["education"]]
        rows = np.arange(start, end, dtype=np.int32)
        chain, repeat, zeros = itertools.chain.from_iterable, itertools.repeat, itertools.repeat(0)
        occupations = [codes or () for codes in field["occupations"]]
        experience = field["experience"]
        months = [int(value) for value in chain([map(months_.get, codes, zeros) if months_ else repeat(0, len(codes))
                                                 for codes, months_ in zip(occupations, experience, strict=True)])]
        skills = [codes or () for codes in field["skills"]]
        languages = [levels or {} for levels in field["languages"]]
        counts = [np.fromiter(map(len, held), np.int64, count)
                  for held in (occupations, skills, languages, [months_ or () for months_ in experience])]
        a["present"][start:end] = self._present(start, end, *counts)
        for postings, held, values in ((self.occupations, occupations, months), (self.skills, skills, None),
                                       (self.languages, languages, list(chain([levels.values() for levels in languages])))):
            codes = list(chain(held))
            # Ids in the order codes are first met, as ``put`` gives them.
            ids = np.fromiter(map(postings.ids.__getitem__, codes), np.int64, len(codes))
            numbers = np.array(values, np.int64) if values is not None else np.zeros(len(codes), np.int64)
            postings.extend(np.repeat(rows, np.fromiter(map(len, held), np.int64, count)), ids, numbers)

    def _present(self, start: int, end: int, occupations: np.ndarray, skills: np.ndarray, languages: np.ndarray,
                 experience: np.ndarray) -> np.ndarray:
        """The FLAGS of the categories rows ``start`` .. ``end`` have a value for, from their arrays
        (already set) and the number of their occupations, skills, languages and past jobs."""
        a = self.arrays
        has = {
            "occupation": occupations > 0, "skills": skills > 0, "languages": languages > 0, "experience": experience > 0,
            "location": ~np.isnan(a["latitude"][start:end]), "availability": a["available"][start:end] != NO_DATE,
            "contract": (a["contracts"][start:end] | a["working"][start:end]) != 0,
            "licences": a["licences"][start:end] != 0, "education": a["education"][start:end] >= 0,
        }
        present = np.zeros(end - start, np.uint16)
        for flag, held in has.items():
            present[held] |= FLAGS[flag]
        return present

    def _compact_if_due(self) -> None:
        gone = self.rows - len(self)
        added = max(p.added for p in (self.occupations, self.skills, self.languages))
        block = max(self.skills.size - self.skills.added, 1)
        if gone > max(COMPACT_MINIMUM, COMPACT_RATIO * self.rows):
            self.compact(renumber=True)
        elif added > max(COMPACT_MINIMUM, COMPACT_RATIO * block):
            self.compact(renumber=False)

    def compact(self, renumber: bool = True) -> None:
        """Fold recent postings into the blocks; with ``renumber``, drop gone rows too."""
        if not renumber or self.rows == len(self):  # nothing gone: nothing to renumber
            for postings in (self.occupations, self.skills, self.languages):
                postings.compact()
            return
        live = self.arrays["live"][: self.rows]
        kept = np.flatnonzero(live)
        keep = np.full(self.rows, -1, np.int64)
        keep[kept] = np.arange(len(kept))
        for postings in (self.occupations, self.skills, self.languages):
            postings.compact(keep)
        capacity = max(1024, len(kept) * 5 // 4)
        arrays = {}
        for name, (dtype, fill) in self._ARRAYS.items():
            fresh = np.full(capacity, fill, dtype)
            fresh[: len(kept)] = self.arrays[name][kept]
            arrays[name] = fresh
        self.arrays = arrays
        self.pseudonyms = [self.pseudonyms[row] for row in kept.tolist()]
        self.row_of = {pseudonym: row for row, pseudonym in enumerate(self.pseudonyms)}
        self.scratch_values = np.zeros(capacity, np.float32)
        self.scratch_numbers = np.zeros(capacity, np.int32)
        self.scratch_marks = np.zeros(capacity, np.bool_)

    # -- places ---------------------------------------------------------------------------------

    def _place_number(self, place: Place | None) -> int:
        if place is None:
            return -1
        number = self.place_numbers.get(place.postal_code)
        if number is None:
            number = self.place_numbers[place.postal_code] = len(self._place_positions)
            if number > np.iinfo(np.int16).max:
                raise ValueError("more places than the index numbers")
            self._place_positions.append((place.latitude, place.longitude))
            self._place_arrays = None
        return number

    @property
    def place_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """(latitudes, longitudes) of the places by number, as the rows hold them (float32)."""
        if self._place_arrays is None:
            positions = np.array(self._place_positions, np.float64).reshape(-1, 2)
            self._place_arrays = positions[:, 0].astype(np.float32), positions[:, 1].astype(np.float32)
        return self._place_arrays

    # -- reading rows through scratch arrays ----------------------------------------------------

    def union(self, parts: Sequence[np.ndarray]) -> np.ndarray:
        """The rows in any of ``parts``, each once, in increasing order."""
        total = sum(len(part) for part in parts)
        if not total:
            return np.empty(0, np.intp)
        if total * UNION_RATIO < self.rows:
            # np.unique's result, by a sort and a look at neighbours (several times faster; the
            # stable sort merges the parts, each already in order).
            rows = np.sort(np.concatenate(parts).astype(np.intp), kind="stable")
            return rows[np.concatenate(([True], rows[1:] != rows[:-1]))]
        marks = self.scratch_marks
        for part in parts:
            marks[part] = True
        found = np.flatnonzero(marks[: self.rows])
        marks[found] = False
        return found

    def held(self, postings: Postings, code: str, pool: np.ndarray) -> np.ndarray:
        """For each row of ``pool``, whether it holds ``code``."""
        rows = postings.get_rows(code)
        if len(rows) > LOOKUP_RATIO * len(pool):
            held: np.ndarray = _found(rows, pool)[0]
            return held
        marks = self.scratch_marks
        marks[rows] = True
        found: np.ndarray = marks[pool]
        marks[rows] = False
        return found

    def value_of(self, postings: Postings, code: str, pool: np.ndarray) -> np.ndarray:
        """For each row of ``pool``, the value of its posting of ``code``, or -1 without one."""
        rows, values = postings.get(code)
        if len(rows) > LOOKUP_RATIO * len(pool):
            present, at = _found(rows, pool)
            looked_up: np.ndarray = np.where(present, values[at].astype(np.int32), np.int32(-1))
            return looked_up
        numbers = self.scratch_numbers
        numbers[rows] = values.astype(np.int32) + 1  # values are never negative
        value: np.ndarray = numbers[pool] - 1
        numbers[rows] = 0
        return value


def _found(rows: np.ndarray, pool: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(whether each row of ``pool`` is in ``rows``, where): a binary search of each in ``rows``,
    which a code's postings keep in increasing order, for a pool much smaller than the list."""
    if not len(rows):
        return np.zeros(len(pool), np.bool_), np.zeros(len(pool), np.intp)
    needles = pool.astype(rows.dtype)  # rather than a copy of the long list in the pool's type
    at = np.minimum(np.searchsorted(rows, needles), len(rows) - 1)
    return rows[at] == needles, at

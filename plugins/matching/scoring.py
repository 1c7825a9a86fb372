"""A search over the index: who matches (the filters), how well (the score), and why (per criterion).

The employer's criteria are of two kinds. Filters decide who is a match at all, and so the total:
the occupation (exact, or a related one), every required skill, each language at its minimum
level, the distance (within the radius, and within the seeker's own stated mobility), availability
by a date, contract type, working time, licences, minimum experience, minimum education level.
Every criterion given then scores each match between 0 and 1, and the score is their mean weighted
by the employer's weights, out of 100: an exact occupation scores 1, a related one its similarity
times 0.6; preferred skills score the share held (skills essential to the occupation count more
than optional ones); distance scores 1 at the employer's postal code down to 0 at the radius;
experience scores the months in the occupation against the minimum asked (or two years). A field
an advisor validated counts whole, a declared one ``declared_factor`` of it (0.8 by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from plugins.api import (
    EARTH_RADIUS_KM,
    LANGUAGE_LEVELS,
    SEARCH_CRITERIA,
    CandidateQuery,
    CriterionMatch,
    RankedCandidate,
    Ranking,
    locate,
)
from plugins.matching import explain
from plugins.matching.index import CONTRACT_BITS, FLAGS, LICENCE_BITS, UNION_RATIO, WORKING_BITS, ProfileIndex, mask

DEFAULT_WEIGHTS: dict[str, float] = {
    "occupation": 3.0, "required_skills": 2.0, "preferred_skills": 2.0, "languages": 1.0, "distance": 1.0,
    "availability": 1.0, "contract_types": 1.0, "working_time": 1.0, "licences": 1.0, "experience": 1.0,
    "education": 1.0,
}
CRITERIA = SEARCH_CRITERIA
assert set(DEFAULT_WEIGHTS) == set(CRITERIA)
# Which validation flag (plugins.matching.document) each criterion rests on.
RESTS_ON: dict[str, str] = {
    "occupation": "occupation", "required_skills": "skills", "preferred_skills": "skills", "languages": "languages",
    "distance": "location", "availability": "availability", "contract_types": "contract", "working_time": "contract",
    "licences": "licences", "experience": "experience", "education": "education",
}
RELATED_SHARE = 0.6
SKILL_WEIGHT = {"essential": 1.0, "optional": 0.6}
OTHER_SKILL_WEIGHT = 0.8
# Without a radius, distance scores down to 0 at this many kilometres.
OPEN_DISTANCE_KM = 100.0
EXPERIENCE_TARGET_MONTHS = 24


@dataclass
class _Pool:
    """The rows still in the running, and what each criterion found for them (arrays over rows)."""

    rows: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)
    held: dict[str, np.ndarray] = field(default_factory=dict)  # skill code -> held
    levels: dict[str, np.ndarray] = field(default_factory=dict)  # language code -> level rank or -1
    distance: np.ndarray | None = None
    months: np.ndarray | None = None
    related: np.ndarray | None = None  # whether the occupation matched through a related one

    def keep(self, kept: np.ndarray) -> None:
        self.rows = self.rows[kept]
        for group in (self.values, self.held, self.levels):
            for name, array in group.items():
                group[name] = array[kept]
        for name in ("distance", "months", "related"):
            array = getattr(self, name)
            if array is not None:
                setattr(self, name, array[kept])


def search(index: ProfileIndex, query: CandidateQuery, declared_factor: float = 0.8) -> Ranking:
    """The page ``query.offset`` .. ``+ query.limit`` of the matches, best first, and their total."""
    pool = _candidates(index, query)
    _filter(index, query, pool)
    criteria = _criteria(query)
    if not len(pool.rows) or query.limit <= 0:
        return Ranking((), int(len(pool.rows)))
    weights = {name: float(query.weights.get(name, DEFAULT_WEIGHTS[name])) for name in criteria}
    total_weight = sum(weights.values()) or 1.0
    validated = index.arrays["validated"][pool.rows]
    by_flag: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # flag -> (validated, factor), each worked out once
    factors = {}
    score = np.zeros(len(pool.rows), np.float64)
    for name in criteria:
        flag = RESTS_ON[name]
        if flag not in by_flag:
            is_validated = (validated & FLAGS[flag]) != 0
            by_flag[flag] = is_validated, np.where(is_validated, 1.0, declared_factor)
        factors[name], factor = by_flag[flag]
        # A criterion every match meets scores 1: its value is the factor itself (1.0 * f is f).
        value = factor if name in ALWAYS_ONE else pool.values[name] * factor
        pool.values[name] = value
        score += weights[name] * value
    score *= 100.0 / total_weight
    page = _page(score, index.arrays["tiebreak"][pool.rows], query.offset, query.limit)
    # The page's numbers as Python values, once per criterion.
    rows, scores = pool.rows[page].tolist(), score[page].tolist()
    values = {name: pool.values[name][page].tolist() for name in criteria}
    present = index.arrays["present"][pool.rows[page]]
    # Whether each field was validated, None where the candidate has no such field.
    flags = {name: [flag if has else None for flag, has in zip(factors[name][page].tolist(),
                                                                ((present & FLAGS[RESTS_ON[name]]) != 0).tolist(), strict=True)]
             for name in criteria}
    said = explain.sentences(query, pool, page, criteria)
    explained = _Explained(weights, total_weight)
    candidates = tuple(
        RankedCandidate(index.pseudonyms[row], round(scores[k], 2),
                        criteria=tuple(explained(name, said[name][k], flags[name][k], values[name][k]) for name in criteria))
        for k, row in enumerate(rows)
    )
    return Ranking(candidates, int(len(pool.rows)))


def _criteria(query: CandidateQuery) -> tuple[str, ...]:
    given = {
        "occupation": query.occupation is not None, "required_skills": bool(query.required_skills),
        "preferred_skills": bool(query.preferred_skills), "languages": bool(query.languages),
        "distance": query.postal_code is not None, "availability": query.available_by is not None,
        "contract_types": bool(query.contract_types), "working_time": bool(query.working_time),
        "licences": bool(query.licences),
        "experience": query.occupation is not None or query.min_experience_months is not None,
        "education": query.min_education_level is not None,
    }
    return tuple(name for name in CRITERIA if given[name])


def _candidates(index: ProfileIndex, query: CandidateQuery) -> _Pool:
    """The rows that could match: those of the occupation or a related one, else those holding a
    required skill (the rarest), else any preferred skill; live rows only."""
    if query.occupation is not None:
        return _occupation_pool(index, query)
    if query.required_skills:
        rows = index.union([min((index.skills.get_rows(code) for code in query.required_skills), key=len)])
    else:
        rows = index.union([index.skills.get_rows(code) for code in query.preferred_skills])
    return _Pool(rows[index.arrays["live"][rows]])


def _occupation_pool(index: ProfileIndex, query: CandidateQuery) -> _Pool:
    """The rows of the occupation or a related one, each with the value of its best occupation (1
    for the occupation itself, else 0.6 times the similarity, kept in float32) and its months of
    experience in all of them."""
    # The related occupations by increasing similarity, then the occupation itself.
    held = [(code, RELATED_SHARE * float(similarity))
            for code, similarity in sorted(query.related_occupations.items(), key=lambda item: item[1])]
    held.append((query.occupation or "", 1.0))
    postings = [(*index.occupations.get(code), share) for code, share in held]
    total = sum(len(rows) for rows, _, _ in postings)
    live = index.arrays["live"]
    if not total:
        rows, value, months = np.empty(0, np.intp), np.empty(0, np.float32), np.empty(0, np.int32)
    elif total * UNION_RATIO < index.rows:
        # Every posting once, grouped by row (a stable sort: within a row, in the order above, so
        # by increasing share): a row's value is its last share, its months their sum.
        every = np.concatenate([rows for rows, _, _ in postings])
        order = np.argsort(every, kind="stable")
        grouped = every[order]
        starts = np.flatnonzero(np.concatenate(([True], grouped[1:] != grouped[:-1])))
        ends = np.append(starts[1:], len(grouped))
        rows = grouped[starts].astype(np.intp)
        lengths = [len(found) for found, _, _ in postings]
        value = np.repeat(np.array([share for _, _, share in postings], np.float32), lengths)[order[ends - 1]]
        numbers = np.concatenate([numbers for _, numbers, _ in postings])[order]
        running = np.concatenate(([0], np.cumsum(numbers, dtype=np.int64)))
        months = (running[ends] - running[starts]).astype(np.int32)
    else:
        # A large union: through the scratch arrays, each posting list taken in the same order
        # (the last share written is the largest).
        rows = index.union([found for found, _, _ in postings])
        scratch_value, scratch_months = index.scratch_values, index.scratch_numbers
        for found, numbers, share in postings:
            scratch_value[found] = share
            scratch_months[found] += numbers.astype(np.int32)
        value, months = scratch_value[rows], scratch_months[rows].copy()
        for found, _, _ in postings:
            scratch_value[found] = 0.0
            scratch_months[found] = 0
    alive = live[rows]
    pool = _Pool(rows[alive])
    pool.values["occupation"] = value[alive].astype(np.float64)
    pool.months = months[alive]
    pool.related = pool.values["occupation"] < 1.0
    return pool


def _filter(index: ProfileIndex, query: CandidateQuery, pool: _Pool) -> None:
    """Keep the rows that satisfy every filter the query sets, noting what each criterion found.

    The filters on the rows' own numbers come first, in one pass (a match satisfies all of them,
    in whatever order they are taken), then those on postings, over what is left."""
    a = index.arrays
    rows = pool.rows
    passes = np.ones(len(rows), np.bool_)
    origin = locate(query.postal_code)
    if origin is not None:
        # Each place's distance once, then each row's place's (the same numbers as row by row).
        latitudes, longitudes = index.place_positions
        by_place = np.append(_distances(latitudes, longitudes, origin.latitude, origin.longitude), np.nan)
        distance = by_place[a["place"][rows]]  # place -1 (none): the NaN at the end
        pool.distance = distance
        if query.radius_km is not None:
            passes &= (distance <= query.radius_km) & (distance <= a["mobility_km"][rows])
    if query.available_by is not None:
        passes &= a["available"][rows] <= date.fromisoformat(query.available_by).toordinal()
    for array, bits, wanted in (("contracts", CONTRACT_BITS, query.contract_types), ("working", WORKING_BITS, query.working_time)):
        if wanted:
            held = a[array][rows]
            passes &= (held == 0) | ((held & mask(bits, wanted)) != 0)
    if query.licences:
        licences = mask(LICENCE_BITS, query.licences)
        passes &= (a["licences"][rows] & licences) == licences
    if query.min_experience_months is not None:
        if pool.months is None:
            pool.months = np.zeros(len(rows), np.int32)  # no occupation: nothing to count
        passes &= pool.months >= query.min_experience_months
    if query.min_education_level is not None:
        passes &= a["education"][rows] >= query.min_education_level
    if not passes.all():
        pool.keep(passes)
    for code in query.required_skills:
        pool.keep(index.held(index.skills, code, pool.rows))
    for need in query.languages:
        level = index.value_of(index.languages, need.code, pool.rows)
        pool.levels[need.code] = level
        pool.keep(level >= LANGUAGE_LEVELS.index(need.min_level))
    for code in dict.fromkeys((*query.required_skills, *query.preferred_skills)):
        pool.held[code] = index.held(index.skills, code, pool.rows)
    _values(query, pool)


# The criteria every match meets (filters alone): each scores 1.
ALWAYS_ONE = frozenset({"required_skills", "languages", "availability", "contract_types", "working_time", "licences", "education"})


def _values(query: CandidateQuery, pool: _Pool) -> None:
    ones = np.ones(len(pool.rows), np.float64)
    for name in ALWAYS_ONE:
        pool.values[name] = ones
    if query.preferred_skills:
        weights = np.array([SKILL_WEIGHT.get(query.skill_relations.get(c, ""), OTHER_SKILL_WEIGHT) for c in query.preferred_skills])
        held = np.stack([pool.held[c] for c in query.preferred_skills]).astype(np.float64)
        pool.values["preferred_skills"] = weights @ held / weights.sum()
    if pool.distance is not None:
        scale = float(query.radius_km) if query.radius_km else OPEN_DISTANCE_KM
        pool.values["distance"] = np.clip(1.0 - np.nan_to_num(pool.distance, nan=np.inf) / max(scale, 1.0), 0.0, 1.0)
    else:
        pool.values["distance"] = np.zeros(len(pool.rows))
    if pool.months is not None:
        target = max(query.min_experience_months or EXPERIENCE_TARGET_MONTHS, 1)
        pool.values["experience"] = np.minimum(pool.months / target, 1.0)
    else:
        pool.values["experience"] = np.zeros(len(pool.rows))


def _distances(latitude: np.ndarray, longitude: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    """Great-circle distances in kilometres (NaN where a row has no position)."""
    lat1, lon1 = np.radians(latitude.astype(np.float64)), np.radians(longitude.astype(np.float64))
    lat0r, lon0r = np.radians(lat0), np.radians(lon0)
    h = np.sin((lat1 - lat0r) / 2) ** 2 + np.cos(lat0r) * np.cos(lat1) * np.sin((lon1 - lon0r) / 2) ** 2
    distances: np.ndarray = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    return distances


def _page(score: np.ndarray, tiebreak: np.ndarray, offset: int, limit: int) -> np.ndarray:
    """Positions of the page, best first; equal scores in the order of the pseudonyms' hash."""
    key = np.round(score, 4) + tiebreak * 1e-5
    wanted = min(offset + limit, len(key))
    if wanted <= 0 or offset >= len(key):
        return np.empty(0, np.int64)
    if wanted < len(key):
        top = np.argpartition(-key, wanted - 1)[:wanted]
    else:
        top = np.arange(len(key))
    return top[np.argsort(-key[top], kind="stable")][offset:wanted]


class _Explained:
    """The criteria of a page's candidates. A match is immutable, so candidates for whom a criterion
    counted the same (the same sentence, validation and value, as is common) share one."""

    def __init__(self, weights: dict[str, float], total_weight: float) -> None:
        self._weights, self._total_weight = weights, total_weight
        self._made: dict[tuple[str, explain.Sentence, bool | None, float], CriterionMatch] = {}

    def __call__(self, name: str, sentence: explain.Sentence, validated: bool | None, value: float) -> CriterionMatch:
        key = (name, sentence, validated, value)
        made = self._made.get(key)
        if made is None:
            fr, en, matched = sentence
            weight = self._weights[name]
            made = self._made[key] = CriterionMatch(name, matched, round(value, 4), weight,
                                                    round(100.0 * weight * value / self._total_weight, 2), validated, fr, en)
        return made

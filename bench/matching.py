"""Matching benchmark: the employers' search index at 200,000 and 1,000,000 published profiles.

    .venv/bin/python bench/matching.py [--profiles 200000,1000000] [--queries 64] [--repeat 3] [--loop-queries 24]
                                       [--no-postgresql] [--settle 900] [--settle-threshold 0.3] [--seed 2026]

For each size, in one run, on the same seeded data and the same seeded searches:

- the data: N published profiles with ESCO-sized code spaces (3,000 occupations, 13,500 skills,
  synthetic codes with Zipf-like popularity, skills drawn mostly from each occupation's own),
  Belgian postal codes from ``plugins.api.places()`` (mostly Wallonia), languages with CEFR levels,
  availability dates, contract types, working time, licences, months of experience, education, a
  share validated by an advisor; each a document in the exact shape of
  ``plugins.matching.document.document_of``;
- the store: the documents sealed with the service's own sealing (``core.crypto``: a data key per
  seeker, wrapped under the keyring's KEK) and inserted directly into a migrated SQLite database
  with the rows a publication leaves (subject, consent event and state, the plugin's holding, its
  store entry and change-feed row); publishing a million seekers through the API would take hours;
- the build from the store: the plugin's own ``dossier_process_started`` on a real context
  (``gateway.open_context("matching", "profile.matching")``): ``context.store.changes`` (every data
  key unwrapped and every entry opened, the data-key cache emptied first), ``ProfileIndex.apply``,
  ``compact``; each part timed, with the CPU time and the cyclic GC's share (the target: under 60 s
  at 1,000,000);
- the index memory: the arrays (``ProfileIndex.nbytes``) and the Python dictionaries and lists of
  pseudonyms and codes, measured with tracemalloc over a second build from the same documents
  (pseudonyms copied, so that they are counted), and the RSS growth of the timed build;
- latency: the mix of searches (occupation alone, with a radius, required and preferred skills,
  languages, weights, skills without an occupation, ...) through ``plugins.matching.scoring.search``,
  top 20 with their explanations; median and 95th percentile over ``--repeat`` passes, the index's
  and PostgreSQL's passes in turn (so that both meet the same load on a shared machine; the CPU
  other processes took meanwhile is printed);
- two baselines, same data and searches: a plain Python loop over the documents (the same filters
  and score; the first ``--loop-queries`` searches, as it is slow, each timed beside the index's),
  and PostgreSQL (its own database, dropped at the end) with int[] columns of occupations and
  skills under GIN indexes (intarray ``gin__int_ops``) and the same filters and ranking in SQL
  (``ORDER BY`` score ``LIMIT 20``, ``count(*) OVER ()`` for the total). Each search's total and
  top 20 are checked against the index's;
- the catch-up: 1,000 profiles changed through the store (``context.store.put``), then the plugin's
  ranking hook as a search calls it (``changes`` since its cursor, ``apply``, the search), and the
  next call, with nothing new.

The last line: ``SUMMARY matching profiles=N p50_ms=.. p95_ms=.. pg_p50_ms=.. pg_p95_ms=.. loop_p50_ms=..
index_mib=.. build_s=..`` (of the last size). Targets at 1,000,000: at least 10 times faster than
PostgreSQL at p50 and p95, 50 times faster than the loop, under 1 GiB of index memory, built in
under a minute. PostgreSQL is skipped with ``--no-postgresql``, or when the server or intarray is
missing (said so). Before the build and the timed searches it waits (up to ``--settle`` s) for a
quiet machine: no other benchmark of the audit log running, other processes under
``--settle-threshold`` cores; the CPU others took is printed with each figure.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import math
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, UTC
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sqlalchemy import select  # noqa: E402

from config.settings import load_settings  # noqa: E402
from consent.models import purposes  # noqa: E402
from core.app import create_app  # noqa: E402
from core.bootstrap import initialise  # noqa: E402
from core.plugins.gateway import plugin_gateway  # noqa: E402
from core.plugins.models import plugin_store_sequences  # noqa: E402
from core.runtime import runtime  # noqa: E402
from plugins.api import (  # noqa: E402
    CONTRACT_TYPES,
    EARTH_RADIUS_KM,
    LANGUAGE_LEVELS,
    LICENCES,
    WORKING_TIME,
    CandidateQuery,
    LanguageRequirement,
    places,
)
from plugins.matching import scoring  # noqa: E402
from plugins.matching.index import CONTRACT_BITS, FLAGS, LICENCE_BITS, WORKING_BITS, ProfileIndex, mask, tiebreak  # noqa: E402

PG_SERVER = os.environ.get("TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PLUGIN, PURPOSE, STORE = "matching", "profile.matching", "profile"
TODAY = date(2026, 12, 1)
OCCUPATIONS, SKILLS = 3_000, 13_500
SKILLS_PER_OCCUPATION = 40  # the first 15 essential, the others optional (ESCO's relations)
ESSENTIAL = 15
LANGUAGES = ("fr", "nl", "en", "de", "it", "es", "ar", "tr", "pl", "pt", "ro")
CHANGES = 1_000
PAGE = 20
DECLARED_FACTOR = 0.8


def log(message: str) -> None:
    print(f"  ... {message}", file=sys.stderr, flush=True)


# -- the synthetic taxonomy and profiles ---------------------------------------------------------


def zipf(n: int, offset: float, exponent: float = 1.0) -> np.ndarray:
    """Zipf-Mandelbrot popularity of ``n`` codes (rank 0 the most popular)."""
    weights = 1.0 / (np.arange(n) + offset) ** exponent
    return weights / weights.sum()


@dataclass
class Taxonomy:
    occupations: list[str]
    skills: list[str]
    occupation_popularity: np.ndarray
    skill_popularity: np.ndarray
    skills_of: list[list[int]]  # occupation -> its skills, essential first
    related: list[dict[int, float]]  # occupation -> up to 10 related ones and their similarity
    postal_codes: list[str]
    postal_weights: np.ndarray


def taxonomy(seed: int) -> Taxonomy:
    rng = np.random.default_rng(seed)
    occupation_popularity, skill_popularity = zipf(OCCUPATIONS, 10.0), zipf(SKILLS, 20.0)
    # ISCO unit groups of 4 to 12 occupations: related occupations are mostly in the same group.
    order = rng.permutation(OCCUPATIONS)
    groups: list[np.ndarray] = []
    start = 0
    while start < OCCUPATIONS:
        size = int(rng.integers(4, 13))
        groups.append(order[start:start + size])
        start += size
    group_of = np.empty(OCCUPATIONS, np.int64)
    for number, members in enumerate(groups):
        group_of[members] = number
    # Each group shares a core of skills; each occupation adds its own.
    cores = [rng.choice(SKILLS, 12, replace=False, p=skill_popularity) for _ in groups]
    skills_of: list[list[int]] = []
    related: list[dict[int, float]] = []
    for occupation in range(OCCUPATIONS):
        core = cores[group_of[occupation]]
        own = rng.choice(SKILLS, SKILLS_PER_OCCUPATION, replace=False, p=skill_popularity)
        mine = list(dict.fromkeys([*core[:8].tolist(), *own.tolist(), *core[8:].tolist()]))[:SKILLS_PER_OCCUPATION]
        skills_of.append([int(s) for s in mine])
        near = {int(o): round(float(rng.uniform(0.45, 0.9)), 3) for o in groups[group_of[occupation]] if o != occupation}
        for other in rng.choice(OCCUPATIONS, 3, replace=False).tolist():
            if other != occupation and other not in near:
                near[int(other)] = round(float(rng.uniform(0.3, 0.5)), 3)
        related.append(dict(sorted(near.items(), key=lambda item: -item[1])[:10]))
    codes, weights = postal_codes(rng)
    return Taxonomy([f"occ.{i:04d}" for i in range(OCCUPATIONS)], [f"skill.{i:05d}" for i in range(SKILLS)],
                    occupation_popularity, skill_popularity, skills_of, related, codes, weights)


def postal_codes(rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Belgian postal codes, Wallonia's (Forem's) weighing most, the larger localities more."""
    codes = sorted(places())
    walloon = np.array([1300 <= int(c) <= 1499 or 4000 <= int(c) <= 7999 for c in codes])
    weights = np.where(walloon, 6.0, 1.0) * rng.pareto(1.5, len(codes)).clip(0, 50) + 0.05
    for city in ("4000", "6000", "5000", "7000", "1000", "1300", "4020", "6200"):
        if city in places():
            weights[codes.index(city)] *= 20
    return codes, weights / weights.sum()


def profiles(n: int, tax: Taxonomy, seed: int) -> list[dict[str, Any]]:
    """``n`` documents as ``document_of`` makes them, drawn in bulk with numpy (seeded), by chunks."""
    rng = np.random.default_rng(seed)
    documents: list[dict[str, Any]] = []
    for start in range(0, n, 20_000):
        documents += _chunk(min(20_000, n - start), tax, rng)
    return documents


def _chunk(n: int, tax: Taxonomy, rng: np.random.Generator) -> list[dict[str, Any]]:
    occ, skill_codes, codes = tax.occupations, tax.skills, tax.postal_codes
    first = rng.choice(OCCUPATIONS, n, p=tax.occupation_popularity).tolist()
    declared = rng.choice([1, 2, 3], n, p=[0.6, 0.3, 0.1]).tolist()
    jobs = rng.choice([0, 1, 2, 3], n, p=[0.25, 0.35, 0.25, 0.15]).tolist()
    skill_count = (3 + rng.poisson(9, n)).tolist()
    other = iter(rng.choice(OCCUPATIONS, n * 4, p=tax.occupation_popularity).tolist())
    glob = iter(rng.choice(SKILLS, n * 12, p=tax.skill_popularity).tolist())
    u = iter(rng.random(n * 60).tolist())
    k = iter(rng.integers(0, 1 << 30, n * 60).tolist())
    month = iter(np.clip(np.exp(rng.normal(3.0, 0.9, n * 3)), 1, 360).astype(int).tolist())
    postal = rng.choice(len(codes), n, p=tax.postal_weights).tolist()
    mobility_choices = [None, None, 5, 10, 15, 20, 30, 40, 50, 75, 100]
    mobility = rng.integers(0, len(mobility_choices), n).tolist()
    available = rng.integers(-60, 181, n).tolist()
    education = rng.choice([-1, 1, 2, 3, 4, 5, 6, 7, 8], n, p=[0.3, 0.02, 0.1, 0.25, 0.08, 0.05, 0.12, 0.07, 0.01]).tolist()
    contract_weights = [0.45, 0.25, 0.12, 0.06, 0.04, 0.04, 0.04]
    licence_share = {"B": 0.6, "BE": 0.08, "C": 0.06, "CE": 0.04, "AM": 0.05, "A": 0.06, "C1": 0.03, "D": 0.01, "G": 0.02}
    flag_share = {"occupation": 0.7, "skills": 0.6, "languages": 0.5, "location": 0.3, "licences": 0.4,
                  "experience": 0.5, "education": 0.5, "availability": 0.2, "contract": 0.2}
    documents = []
    for i in range(n):
        mine = [first[i]]
        near = list(tax.related[first[i]])
        for _ in range(declared[i] - 1):
            mine.append(near[next(k) % len(near)] if near and next(u) < 0.7 else next(other))
        mine = list(dict.fromkeys(mine))
        experience: dict[str, int] = {}
        for _ in range(jobs[i]):
            roll = next(u)
            code = mine[next(k) % len(mine)] if roll < 0.7 else (near[next(k) % len(near)] if roll < 0.9 and near else next(other))
            experience[occ[code]] = experience.get(occ[code], 0) + next(month)
        held: dict[int, None] = {}
        for _ in range(skill_count[i]):
            roll = next(u)
            if roll < 0.8:
                own = tax.skills_of[mine[next(k) % len(mine)]]
                # Essential skills are held more often than optional ones.
                held[own[next(k) % ESSENTIAL] if roll < 0.5 else own[next(k) % len(own)]] = None
            else:
                held[next(glob)] = None
        languages: dict[str, int] = {}
        roll = next(u)
        if roll < 0.92:
            languages["fr"] = 6 if roll < 0.75 else 2 + next(k) % 4
        for code, share in (("nl", 0.35), ("en", 0.5), ("de", 0.08)):
            if next(u) < share:
                languages[code] = next(k) % 6
        if next(u) < 0.15:
            languages[LANGUAGES[4 + next(k) % (len(LANGUAGES) - 4)]] = 6 if next(u) < 0.6 else next(k) % 6
        if not languages:
            languages["fr"] = 3
        contracts = [] if next(u) < 0.3 else sorted(
            {CONTRACT_TYPES[_weighted(contract_weights, next(u))] for _ in range(1 + next(k) % 3)}, key=CONTRACT_TYPES.index)
        roll = next(u)
        working = [] if roll < 0.4 else (list(WORKING_TIME) if roll < 0.55 else [WORKING_TIME[0] if next(u) < 0.75 else WORKING_TIME[1]])
        licences = [name for name in LICENCES if name in licence_share and next(u) < licence_share[name]]
        validated = sorted(flag for flag, share in flag_share.items() if next(u) < share) if next(u) < 0.3 else []
        has_place = next(u) < 0.96
        documents.append({
            "occupations": list(dict.fromkeys([*(occ[c] for c in mine), *experience])),
            "experience": experience,
            "skills": [skill_codes[s] for s in held],
            "languages": languages,
            "postal_code": codes[postal[i]] if has_place else None,
            "mobility_km": mobility_choices[mobility[i]] if has_place else None,
            "available_from": None if available[i] < 0 else (TODAY + timedelta(days=available[i])).isoformat(),
            "contract_types": contracts,
            "working_time": working,
            "licences": licences,
            "education": None if education[i] < 0 else education[i],
            "validated": validated,
        })
    return documents


def _weighted(weights: Sequence[float], roll: float) -> int:
    total = 0.0
    for i, weight in enumerate(weights):
        total += weight
        if roll < total:
            return i
    return len(weights) - 1


# -- the searches --------------------------------------------------------------------------------


KINDS = ("occupation", "occupation+radius", "occupation+skills+languages", "weighted, every filter", "skills, no occupation",
         "preferred skills only", "occupation+education+experience", "occupation+radius+licence+contract")


def searches(count: int, tax: Taxonomy, seed: int) -> list[tuple[str, CandidateQuery]]:
    """A fixed mix of employers' searches, each kind in turn (seeded)."""
    rng = np.random.default_rng(seed)
    towns = [c for c in ("4000", "6000", "5000", "7000", "1300", "4800", "6700", "7500", "5100", "1400", "4500", "6900")
             if c in places()]
    found: list[tuple[str, CandidateQuery]] = []
    for number in range(count):
        kind = KINDS[number % len(KINDS)]
        occupation = int(rng.choice(OCCUPATIONS, p=tax.occupation_popularity))
        own = tax.skills_of[occupation]
        essential = [tax.skills[s] for s in own[:ESSENTIAL]]
        optional = [tax.skills[s] for s in own[ESSENTIAL:]]
        town = towns[int(rng.integers(len(towns)))]
        pick = lambda codes, n: [str(c) for c in rng.choice(codes, n, replace=False)]
        criteria: dict[str, Any] = {"occupation": tax.occupations[occupation]}
        if kind == "occupation+radius":
            criteria.update(postal_code=town, radius_km=int(rng.choice([10, 20, 30, 50])))
        elif kind == "occupation+skills+languages":
            criteria.update(required_skills=tuple(pick(essential[:6], int(rng.integers(1, 3)))),
                            preferred_skills=tuple(pick(essential[6:] + optional[:6], int(rng.integers(3, 6)))),
                            languages=(LanguageRequirement("fr", "B2"),) if rng.random() < 0.7 else
                            (LanguageRequirement("fr", "B1"), LanguageRequirement("nl", "A2")),
                            postal_code=town)
        elif kind == "weighted, every filter":
            criteria.update(required_skills=tuple(pick(essential[:4], 1)), preferred_skills=tuple(pick(essential[4:] + optional, 4)),
                            languages=(LanguageRequirement("fr", "B1"),), postal_code=town, radius_km=40,
                            available_by=(TODAY + timedelta(days=int(rng.integers(14, 90)))).isoformat(),
                            contract_types=("permanent", "fixed_term"), working_time=("full_time",), licences=("B",),
                            min_experience_months=12,
                            weights={"occupation": 5, "preferred_skills": 4, "distance": 2, "experience": 3, "licences": 0})
        elif kind == "skills, no occupation":
            criteria = {"occupation": None, "required_skills": tuple(pick(essential[:4], 2)),
                        "preferred_skills": tuple(pick(essential[4:] + optional, 3)), "postal_code": town, "radius_km": 30}
        elif kind == "preferred skills only":
            criteria = {"occupation": None, "preferred_skills": tuple(pick(essential + optional, 5)),
                        "languages": (LanguageRequirement("en", "B2"),), "weights": {"preferred_skills": 6}}
        elif kind == "occupation+education+experience":
            criteria.update(min_education_level=4, min_experience_months=24, postal_code=town, weights={"education": 2, "experience": 4})
        elif kind == "occupation+radius+licence+contract":
            criteria.update(postal_code=town, radius_km=30, licences=("B",), contract_types=("permanent",),
                            working_time=("full_time",), preferred_skills=tuple(pick(essential, 3)))
        occupation_code = criteria.get("occupation")
        related = {tax.occupations[o]: s for o, s in tax.related[occupation].items()} if occupation_code else {}
        relations = ({tax.skills[s]: ("essential" if j < ESSENTIAL else "optional") for j, s in enumerate(own)}
                     if occupation_code else {})
        named = [c for c in (occupation_code, *related, *criteria.get("required_skills", ()), *criteria.get("preferred_skills", ())) if c]
        labels = {c: {"fr": f"libellé {c}", "en": f"label {c}"} for c in named}
        found.append((kind, CandidateQuery(**criteria, limit=PAGE, related_occupations=related, skill_relations=relations,
                                           labels=labels)))
    return found


# -- the store: rows as a publication leaves them ---------------------------------------------------


def fill_store(rt: Any, gateway: Any, documents: list[dict[str, Any]]) -> list[str]:
    """Insert each document as a published seeker's store entry, with the rows a publication
    leaves; the pseudonyms, in order. Sealed as ``PluginSubjectStore.put`` seals (a data key per
    seeker from the service's sealer, the store's encoding and associated data); the rows go in
    through the driver, in SQLAlchemy's own storage format, for speed."""
    from core.plugins.context import _encode, _record  # the service's own encoding and associated data

    sealer = rt.sealer
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")  # SQLAlchemy's SQLite format
    with rt.engine.connect() as conn:
        notice = int(conn.execute(select(purposes.c.current_notice_version).where(purposes.c.name == PURPOSE)).scalar_one())
    record, field = _record(PLUGIN), f"{PURPOSE}/{STORE}"
    statements = {
        "subjects": "INSERT INTO subjects (id, wrapped_dek, kek_version, created_at) VALUES (?, ?, ?, ?)",
        "consent_events": "INSERT INTO consent_events (id, subject_id, purpose, state, notice_version, channel, recorded_by, "
                          "recorded_by_role, occurred_at, receipt_jws) VALUES (?, ?, ?, 'granted', ?, 'web', ?, 'seeker', ?, 'bench')",
        "consent_states": "INSERT INTO consent_states (subject_id, purpose, state, notice_version, granted_at, channel, event_id) "
                          "VALUES (?, ?, 'granted', ?, ?, 'web', ?)",
        "plugin_holdings": "INSERT INTO plugin_holdings (plugin, subject_id, purpose, pseudonym, first_released_at, last_released_at) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
        "plugin_subject_data": "INSERT INTO plugin_subject_data (plugin, subject_id, purpose, name, sealed, updated_at) "
                               "VALUES (?, ?, ?, ?, ?, ?)",
        "plugin_store_changes": "INSERT INTO plugin_store_changes (plugin, purpose, name, subject_id, pseudonym, seq, deleted) "
                                "VALUES (?, ?, ?, ?, ?, ?, 0)",
    }
    pseudonyms: list[str] = []
    raw = rt.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA cache_size = -1000000")  # this connection only: 1 GB of page cache while it fills
        for start in range(0, len(documents), 20_000):
            rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in statements}
            for i in range(start, min(start + 20_000, len(documents))):
                subject_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
                key = sealer.new_data_key(subject_id)
                sealed = sealer.cipher(subject_id, key).seal(record, field, _encode(documents[i]))
                pseudonym = gateway.pseudonym(PLUGIN, subject_id)
                pseudonyms.append(pseudonym)
                rows["subjects"].append((subject_id, key.wrapped, key.kek_version, now))
                rows["consent_events"].append((event_id, subject_id, PURPOSE, notice, subject_id, now))
                rows["consent_states"].append((subject_id, PURPOSE, notice, now, event_id))
                rows["plugin_holdings"].append((PLUGIN, subject_id, PURPOSE, pseudonym, now, now))
                rows["plugin_subject_data"].append((PLUGIN, subject_id, PURPOSE, STORE, sealed, now))
                rows["plugin_store_changes"].append((PLUGIN, PURPOSE, STORE, subject_id, pseudonym, i + 1))
            cursor.execute("BEGIN")
            for table, statement in statements.items():
                cursor.executemany(statement, rows[table])
            cursor.execute("COMMIT")
        cursor.execute("INSERT INTO plugin_store_sequences (plugin, last_seq) VALUES (?, ?)", (PLUGIN, len(documents)))
        cursor.execute("ANALYZE")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    finally:
        raw.close()
    return pseudonyms


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Build:
    plugin: Any  # the MatchingPlugin, its index built
    read_s: float
    apply_s: float
    compact_s: float
    cpu_s: float
    gc_s: float
    rss_mib: float

    @property
    def index(self) -> ProfileIndex:
        return self.plugin.index  # type: ignore[no-any-return]

    @property
    def total_s(self) -> float:
        return self.read_s + self.apply_s + self.compact_s


class _Timed:
    """A context as the plugin's hooks use it (``context.store.changes``, ``context.settings``),
    timing the store's change feed and the index's ``apply``.

    NOTE: nothing here allocates a container once the documents exist (a float, an attribute set),
    so that the timing itself sets off no pass of the cyclic collector that the real path would not."""

    def __init__(self, context: Any, index: ProfileIndex) -> None:
        self.context, self.store, self.read_s, self.apply_s = context, self, 0.0, 0.0
        self.settings = context.settings
        self._index, self._apply = index, index.apply
        index.apply = self.apply  # type: ignore[method-assign]

    def changes(self, name: str, since: int = 0) -> Any:
        started = time.perf_counter()
        found = self.context.store.changes(name, since)
        self.read_s += time.perf_counter() - started
        return found

    def apply(self, changed: Any, removed: Any) -> None:
        started = time.perf_counter()
        self._apply(changed, removed)
        self.apply_s += time.perf_counter() - started

    def end(self) -> None:
        del self._index.apply
        self.context.end()


class _GcClock:
    """Seconds the cyclic collector runs (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds, self._started = 0.0, 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


def build_from_store(rt: Any, gateway: Any) -> Build:
    """The index as a fresh process builds it: the plugin's own ``dossier_process_started`` (its
    catch-up from the store's change feed, ``ProfileIndex.apply``, ``compact``) on a real context,
    every entry read back and opened (the data-key cache emptied first); each part timed."""
    from plugins.matching.plugin import MatchingPlugin

    rt.sealer.forget_data_keys()
    plugin = MatchingPlugin()
    gc.collect()
    before = rss_mib()
    clock = _GcClock()
    timed_context = _Timed(gateway.open_context(PLUGIN, PURPOSE), plugin.index)
    gc.callbacks.append(clock)
    try:
        cpu, started = time.process_time(), time.perf_counter()
        plugin.dossier_process_started(timed_context)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        gc.callbacks.remove(clock)
        timed_context.end()
    gc.collect()
    return Build(plugin, timed_context.read_s, timed_context.apply_s, total - timed_context.read_s - timed_context.apply_s,
                 cpu, clock.seconds, rss_mib() - before)


def traced_size(pseudonyms: list[str], documents: list[dict[str, Any]]) -> tuple[int, int]:
    """(bytes the index holds, of which arrays and lists): tracemalloc over a second build from the
    same documents, the pseudonyms copied so that their strings are counted."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index = ProfileIndex()
    index.apply(((p.encode().decode(), d) for p, d in zip(pseudonyms, documents, strict=True)), ())
    index.compact()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return held, index.nbytes


# -- timing ----------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def timed(run: Callable[[Any], Any], queries: Sequence[Any], repeat: int, warm: bool = True) -> tuple[list[float], list[Any]]:
    """Seconds of every run (``repeat`` passes over the queries, after one untimed pass unless
    ``warm`` is False), and the answers of the last pass."""
    answers = [run(q) for q in queries] if warm else []
    seconds: list[float] = []
    for _ in range(repeat):
        answers = []
        for query in queries:
            started = time.perf_counter()
            answers.append(run(query))
            seconds.append(time.perf_counter() - started)
    return seconds, answers


@dataclass
class Answer:
    total: int
    page: list[tuple[str, float]]  # (pseudonym, score rounded to 2 places), best first


def index_answer(ranking: Any) -> Answer:
    return Answer(ranking.total, [(c.pseudonym, c.score) for c in ranking.candidates])


def agreement(reference: Sequence[Answer], other: Sequence[Answer]) -> tuple[int, float, float]:
    """(searches whose total differs, share of the reference's top 20 also in the other's,
    largest score difference at the same rank)."""
    differing = sum(a.total != b.total for a, b in zip(reference, other, strict=False))
    shared = [len({p for p, _ in a.page} & {p for p, _ in b.page}) / len(a.page) for a, b in zip(reference, other, strict=False) if a.page]
    gaps = [abs(x[1] - y[1]) for a, b in zip(reference, other, strict=False) for x, y in zip(a.page, b.page, strict=False)]
    return differing, float(np.mean(shared)) if shared else 1.0, max(gaps, default=0.0)


# -- baseline 1: a plain Python loop over the documents -----------------------------------------------


def loop_search(items: Sequence[tuple[str, dict[str, Any], float]], positions: dict[str, tuple[float, float]],
                query: CandidateQuery, declared_factor: float = DECLARED_FACTOR) -> Answer:
    """The same filters, score and order as ``scoring.search``, document by document."""
    criteria = scoring._criteria(query)
    weights = {name: float(query.weights.get(name, scoring.DEFAULT_WEIGHTS[name])) for name in criteria}
    total_weight = sum(weights.values()) or 1.0
    occupation, related = query.occupation, query.related_occupations
    occupation_codes = set(related) | ({occupation} if occupation else set())
    # The index keeps an occupation's value in float32 (its scratch array): the same here.
    related_value = {code: float(np.float32(scoring.RELATED_SHARE * float(s))) for code, s in related.items()}
    required, preferred = query.required_skills, query.preferred_skills
    skill_weight = [scoring.SKILL_WEIGHT.get(query.skill_relations.get(c, ""), scoring.OTHER_SKILL_WEIGHT) for c in preferred]
    skill_total = sum(skill_weight) or 1.0
    needs = [(n.code, LANGUAGE_LEVELS.index(n.min_level)) for n in query.languages]
    origin = places().get(query.postal_code or "")
    lat0, lon0 = (math.radians(origin.latitude), math.radians(origin.longitude)) if origin else (0.0, 0.0)
    cos0 = math.cos(lat0)
    radius = query.radius_km
    scale = max(float(radius) if radius else scoring.OPEN_DISTANCE_KM, 1.0)
    by = date.fromisoformat(query.available_by).toordinal() if query.available_by else None
    contracts, working, licences = set(query.contract_types), set(query.working_time), query.licences
    min_months, min_education = query.min_experience_months, query.min_education_level
    target = max(min_months or scoring.EXPERIENCE_TARGET_MONTHS, 1)
    flags = {name: scoring.RESTS_ON[name] for name in criteria}
    ordinals: dict[str, int] = {}
    matches: list[tuple[float, str, float]] = []
    for pseudonym, doc, tie in items:
        skills = doc["skills"]
        values: dict[str, float] = {}
        months = 0
        if occupation is not None:
            held_codes = [c for c in doc["occupations"] if c in occupation_codes]
            if not held_codes:
                continue
            values["occupation"] = 1.0 if occupation in held_codes else max(related_value[c] for c in held_codes)
            experience = doc["experience"]
            months = sum(experience.get(c, 0) for c in held_codes)
        elif required:
            if not all(c in skills for c in required):
                continue
        elif not any(c in skills for c in preferred):
            continue
        if required and occupation is not None and not all(c in skills for c in required):
            continue
        levels = doc["languages"]
        if any(levels.get(code, -1) < level for code, level in needs):
            continue
        distance = math.nan
        if origin is not None:
            here = positions.get(doc["postal_code"] or "")
            if here is not None:
                lat1, lon1 = math.radians(here[0]), math.radians(here[1])
                h = math.sin((lat1 - lat0) / 2) ** 2 + cos0 * math.cos(lat1) * math.sin((lon1 - lon0) / 2) ** 2
                distance = 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(h, 1.0)))
            if radius is not None:
                mobility = doc["mobility_km"]
                if not (distance <= radius and (mobility is None or distance <= mobility)):
                    continue
        if by is not None:
            available = doc["available_from"]
            if available is not None:
                day = ordinals.get(available)
                if day is None:
                    day = ordinals[available] = date.fromisoformat(available).toordinal()
                if day > by:
                    continue
        if contracts and doc["contract_types"] and not contracts.intersection(doc["contract_types"]):
            continue
        if working and doc["working_time"] and not working.intersection(doc["working_time"]):
            continue
        if licences and not all(c in doc["licences"] for c in licences):
            continue
        if min_months is not None and months < min_months:
            continue
        if min_education is not None and (doc["education"] is None or doc["education"] < min_education):
            continue
        if preferred:
            values["preferred_skills"] = sum(w for c, w in zip(preferred, skill_weight, strict=True) if c in skills) / skill_total
        if origin is not None:
            values["distance"] = 0.0 if distance != distance else min(max(1.0 - distance / scale, 0.0), 1.0)
        values["experience"] = min(months / target, 1.0)
        validated = doc["validated"]
        score = 0.0
        for name in criteria:
            factor = 1.0 if flags[name] in validated else declared_factor
            score += weights[name] * (values.get(name, 1.0) * factor)
        score *= 100.0 / total_weight
        matches.append((round(score, 4) + tie * 1e-5, pseudonym, score))
    top = heapq.nlargest(query.offset + query.limit, matches)[query.offset:]
    return Answer(len(matches), [(p, round(s, 2)) for _, p, s in top])


# -- baseline 2: PostgreSQL, int[] columns under GIN (intarray) ---------------------------------------


class PostgresBaseline:
    """The documents in one table, occupations and skills as int[] under GIN (gin__int_ops)."""

    def __init__(self, tax: Taxonomy) -> None:
        import psycopg

        self.tax = tax
        self.occupation_id = {code: i + 1 for i, code in enumerate(tax.occupations)}
        self.skill_id = {code: i + 1 for i, code in enumerate(tax.skills)}
        self.language_id = {code: i + 1 for i, code in enumerate(LANGUAGES)}
        server = PG_SERVER.replace("postgresql+psycopg://", "postgresql://")
        self.name = f"dossier_bench_matching_{uuid.uuid4().hex[:8]}"
        self.admin = psycopg.connect(server, autocommit=True)
        self.admin.execute(f'CREATE DATABASE "{self.name}"')
        self.conn = psycopg.connect(server.rsplit("/", 1)[0] + "/" + self.name, autocommit=True)

    def close(self) -> None:
        self.conn.close()
        self.admin.execute(f'DROP DATABASE "{self.name}" WITH (FORCE)')
        self.admin.close()

    def load(self, pseudonyms: Sequence[str], documents: Sequence[dict[str, Any]]) -> float:
        started = time.perf_counter()
        self.conn.execute("CREATE EXTENSION intarray")
        self.conn.execute("""
            CREATE TABLE profiles (
                id integer PRIMARY KEY, pseudonym text NOT NULL, tiebreak double precision NOT NULL,
                occupations integer[] NOT NULL, occupation_months integer[] NOT NULL, skills integer[] NOT NULL,
                languages integer[] NOT NULL, latitude real, longitude real, mobility_km real,
                available integer NOT NULL, contracts smallint NOT NULL, working smallint NOT NULL, licences integer NOT NULL,
                education smallint NOT NULL, validated integer NOT NULL)""")
        located = {code: (place.latitude, place.longitude) for code, place in places().items()}
        with self.conn.cursor().copy("COPY profiles FROM STDIN") as copy:
            for row, (pseudonym, doc) in enumerate(zip(pseudonyms, documents, strict=True)):
                place = located.get(doc["postal_code"] or "")
                experience = doc["experience"]
                copy.write_row((
                    row, pseudonym, tiebreak(pseudonym),
                    [self.occupation_id[c] for c in doc["occupations"]], [experience.get(c, 0) for c in doc["occupations"]],
                    [self.skill_id[c] for c in doc["skills"]],
                    [self.language_id[c] * 8 + level for c, level in doc["languages"].items()],
                    place[0] if place else None, place[1] if place else None, doc["mobility_km"],
                    date.fromisoformat(doc["available_from"]).toordinal() if doc["available_from"] else 0,
                    mask(CONTRACT_BITS, doc["contract_types"]), mask(WORKING_BITS, doc["working_time"]),
                    mask(LICENCE_BITS, doc["licences"]), -1 if doc["education"] is None else doc["education"],
                    mask(FLAGS, doc["validated"])))
        self.conn.execute("CREATE INDEX profiles_occupations ON profiles USING gin (occupations gin__int_ops)")
        self.conn.execute("CREATE INDEX profiles_skills ON profiles USING gin (skills gin__int_ops)")
        self.conn.execute("VACUUM ANALYZE profiles")
        return time.perf_counter() - started

    def sql(self, query: CandidateQuery, declared_factor: float = DECLARED_FACTOR) -> str:
        """One statement: the same pool, filters, score and order as ``scoring.search``."""
        ints = lambda values: "'{" + ",".join(str(int(v)) for v in values) + "}'::integer[]"
        criteria = scoring._criteria(query)
        weights = {name: float(query.weights.get(name, scoring.DEFAULT_WEIGHTS[name])) for name in criteria}
        total_weight = sum(weights.values()) or 1.0
        where: list[str] = []
        values: dict[str, str] = {}
        if query.occupation is not None:
            exact = self.occupation_id[query.occupation]
            related = {self.occupation_id[c]: scoring.RELATED_SHARE * float(s) for c, s in query.related_occupations.items()}
            codes = ints([exact, *related])
            where.append(f"p.occupations && {codes}")
            best = (f"(SELECT max(r.v) FROM unnest({ints(related)}, '{{{','.join(repr(v) for v in related.values())}}}'::float8[]) "
                    "AS r(c, v) WHERE r.c = ANY(p.occupations))") if related else "0::float8"
            values["occupation"] = f"CASE WHEN p.occupations @> '{{{exact}}}'::integer[] THEN 1::float8 ELSE {best} END"
            months = f"(SELECT coalesce(sum(u.m), 0) FROM unnest(p.occupations, p.occupation_months) AS u(o, m) WHERE u.o = ANY({codes}))"
        else:
            months = "0"
            if not query.required_skills:
                where.append(f"p.skills && {ints(self.skill_id[c] for c in query.preferred_skills)}")
        if query.required_skills:
            where.append(f"p.skills @> {ints(self.skill_id[c] for c in query.required_skills)}")
        for need in query.languages:
            language, level = self.language_id[need.code], LANGUAGE_LEVELS.index(need.min_level)
            where.append(f"p.languages && {ints(language * 8 + lv for lv in range(level, len(LANGUAGE_LEVELS)))}")
        distance = "NULL::float8"
        origin = places().get(query.postal_code or "")
        if origin is not None:
            lat0, lon0 = math.radians(origin.latitude), math.radians(origin.longitude)
            distance = (f"2 * {EARTH_RADIUS_KM!r} * asin(sqrt(least(power(sin((radians(p.latitude::float8) - {lat0!r}) / 2), 2) "
                        f"+ {math.cos(lat0)!r} * cos(radians(p.latitude::float8)) "
                        f"* power(sin((radians(p.longitude::float8) - {lon0!r}) / 2), 2), 1.0)))")
            scale = max(float(query.radius_km) if query.radius_km else scoring.OPEN_DISTANCE_KM, 1.0)
            values["distance"] = f"greatest(0.0, least(1.0, 1.0 - coalesce(m.distance, 'Infinity'::float8) / {scale!r}))"
        if query.available_by is not None:
            where.append(f"p.available <= {date.fromisoformat(query.available_by).toordinal()}")
        for column, bits, wanted in (("contracts", CONTRACT_BITS, query.contract_types), ("working", WORKING_BITS, query.working_time)):
            if wanted:
                where.append(f"(p.{column} = 0 OR (p.{column} & {mask(bits, wanted)}) <> 0)")
        if query.licences:
            where.append(f"(p.licences & {mask(LICENCE_BITS, query.licences)}) = {mask(LICENCE_BITS, query.licences)}")
        if query.min_education_level is not None:
            where.append(f"p.education >= {int(query.min_education_level)}")
        if query.preferred_skills:
            weight = [scoring.SKILL_WEIGHT.get(query.skill_relations.get(c, ""), scoring.OTHER_SKILL_WEIGHT)
                      for c in query.preferred_skills]
            held = " + ".join(f"CASE WHEN p.skills @> '{{{self.skill_id[c]}}}'::integer[] THEN {w!r}::float8 ELSE 0::float8 END"
                              for c, w in zip(query.preferred_skills, weight, strict=True))
            values["preferred_skills"] = f"({held}) / {sum(weight)!r}"
        target = max(query.min_experience_months or scoring.EXPERIENCE_TARGET_MONTHS, 1)
        values["experience"] = f"least(m.months::float8 / {target}, 1.0)"
        later = []
        if origin is not None and query.radius_km is not None:
            later.append(f"m.distance <= {int(query.radius_km)} AND m.distance <= coalesce(m.mobility_km, 'Infinity'::real)")
        if query.min_experience_months is not None:
            later.append(f"m.months >= {int(query.min_experience_months)}")
        inner = {name: values[name] for name in ("occupation", "preferred_skills") if name in values}
        terms = []
        for name in criteria:
            value = "m.v_" + name if name in inner else values.get(name, "1::float8")
            factor = f"CASE WHEN m.validated & {FLAGS[scoring.RESTS_ON[name]]} <> 0 THEN 1::float8 ELSE {declared_factor!r}::float8 END"
            terms.append(f"{weights[name]!r}::float8 * ({value} * {factor})")
        score = f"({' + '.join(terms) or '0::float8'}) * {100.0 / total_weight!r}::float8"
        return f"""
            WITH m AS (
                SELECT p.id, p.pseudonym, p.tiebreak, p.validated, p.mobility_km, {months} AS months, {distance} AS distance
                       {''.join(f', {v} AS v_{n}' for n, v in inner.items())}
                FROM profiles p WHERE {' AND '.join(where) or 'true'}
            ), s AS (
                SELECT m.pseudonym, m.tiebreak, {score} AS score FROM m WHERE {' AND '.join(later) or 'true'}
            )
            SELECT pseudonym, score, count(*) OVER () AS total FROM s
            ORDER BY round(score * 10000.0) / 10000.0 + tiebreak * 1e-5 DESC
            LIMIT {int(query.limit)} OFFSET {int(query.offset)}"""

    def search(self, statement: str) -> Answer:
        rows = self.conn.execute(statement).fetchall()
        return Answer(int(rows[0][2]) if rows else 0, [(p, round(float(s), 2)) for p, s, _ in rows])


def other_benchmark() -> str | None:
    """The command line of another benchmark of the audit log running now, if any."""
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "bench/audit" in command:
                return command.strip()
    return None


def wait_for_quiet(limit: float, threshold: float) -> str:
    """Wait (up to ``limit`` seconds) until no other benchmark of the audit log runs and other
    processes use less than ``threshold`` cores (over 5 s); say so if the wait ran out."""
    started = time.monotonic()
    while True:
        running = other_benchmark()
        if not running:
            load = Load()
            time.sleep(5)
            others = load.others()
            if others < threshold:
                return ""
        if time.monotonic() - started >= limit:
            return f" (the machine was not quiet: {running[:60] if running else f'other load {others:.2f} cores'})"
        log(f"waiting for a quiet machine: {running[:70] if running else f'other load {others:.2f} cores'}")
        time.sleep(5)


class Load:
    """CPU that other processes took while a phase ran, in cores (from /proc/stat and our own times)."""

    def __init__(self) -> None:
        self._started = self._now()

    @staticmethod
    def _now() -> tuple[float, float, float]:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
        busy = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
        own = time.process_time()
        return time.perf_counter(), busy, own

    def others(self) -> float:
        wall, busy, own = (b - a for a, b in zip(self._started, self._now(), strict=True))
        return max(0.0, (busy - own) / wall) if wall > 0 else 0.0


# -- one size ----------------------------------------------------------------------------------------


@dataclass
class Figures:
    p50_ms: float
    p95_ms: float
    pg_p50_ms: float
    pg_p95_ms: float
    loop_p50_ms: float
    index_mib: float
    build_s: float


def ms(seconds: float) -> float:
    return seconds * 1000.0


def run(n: int, args: argparse.Namespace, tax: Taxonomy, mix: list[tuple[str, CandidateQuery]]) -> Figures:
    queries = [q for _, q in mix]
    kinds = [k for k, _ in mix]
    started = time.perf_counter()
    documents = profiles(n, tax, args.seed)
    log(f"{n:,} documents generated in {time.perf_counter() - started:.1f} s")
    pg: PostgresBaseline | None = None
    pg_note = "skipped (--no-postgresql)"
    with tempfile.TemporaryDirectory(prefix="dossier-bench-matching-") as folder:
        overrides = {"INSTANCE_PATH": str(Path(folder) / "instance"), "LOG_LEVEL": "WARNING", "PLUGIN_DISPATCH_INTERVAL": 0,
                     "AUDIT_SEQUENCE_INTERVAL": 0}
        list(initialise(load_settings(overrides, environ={})))
        app = create_app(overrides, start=False)
        rt, gateway = runtime(app), plugin_gateway(app)
        try:
            started = time.perf_counter()
            pseudonyms = fill_store(rt, gateway, documents)
            database_mib = sum(f.stat().st_size for f in (Path(folder) / "instance").glob("dossier.sqlite3*")) / 2**20
            log(f"store filled in {time.perf_counter() - started:.1f} s ({database_mib:,.0f} MiB of SQLite)")
            build_note = wait_for_quiet(args.settle, args.settle_threshold)
            load = Load()
            build = build_from_store(rt, gateway)
            build_others = load.others()
            index = build.index
            assert len(index) == n, f"the index holds {len(index)} profiles, not {n}"
            log(f"index built in {build.total_s:.1f} s")
            held, arrays = traced_size(pseudonyms, documents)
            index_mib = held / 2**20
            # Baseline 2's table, loaded before any timing.
            if args.postgresql:
                pg, pg_note = postgres_baseline(tax, pseudonyms, documents)
            statements = [pg.sql(q) for q in queries] if pg else []
            note = wait_for_quiet(args.settle, args.settle_threshold)
            # Latency: the index and PostgreSQL in turn, pass by pass (one untimed pass of each
            # first), so that both meet the same conditions on a shared machine.
            search = lambda q: scoring.search(index, q, DECLARED_FACTOR)
            answers = [index_answer(search(q)) for q in queries]
            pg_answers = [pg.search(s) for s in statements] if pg else []
            seconds: list[float] = []
            pg_seconds: list[float] = []
            load = Load()
            for _ in range(args.repeat):
                seconds += timed(search, queries, 1, warm=False)[0]
                if pg:
                    pg_seconds += timed(pg.search, statements, 1, warm=False)[0]
            timing_others = load.others()
            reference = answers
            p50, p95 = percentile(seconds, 50), percentile(seconds, 95)
            by_kind = lambda values, kind: percentile([s for i, s in enumerate(values) if kinds[i % len(kinds)] == kind], 50)
            # Baseline 1: the loop, on the first --loop-queries searches, each beside the index's.
            located = {code: (float(np.float32(p.latitude)), float(np.float32(p.longitude))) for code, p in places().items()}
            items = [(p, d, tiebreak(p)) for p, d in zip(pseudonyms, documents, strict=True)]
            subset = queries[: args.loop_queries]
            loop_seconds, loop_answers, beside = [], [], []
            for query in subset:
                began = time.perf_counter()
                loop_answers.append(loop_search(items, located, query))
                loop_seconds.append(time.perf_counter() - began)
                beside += timed(search, [query], 3, warm=False)[0]
            del items
            loop_p50, index_subset_p50 = percentile(loop_seconds, 50), percentile(beside, 50)
            loop_check = agreement(reference[: len(subset)], loop_answers)
            pg_check = agreement(reference, pg_answers) if pg else (0, 1.0, 0.0)
            # The catch-up: 1,000 profiles changed through the store, then searches.
            catch = catch_up(gateway, build, tax, args.seed, pseudonyms, queries)
            with rt.engine.connect() as conn:  # the store's feed numbered every change
                last = conn.execute(select(plugin_store_sequences.c.last_seq).where(plugin_store_sequences.c.plugin == PLUGIN)).scalar_one()
            assert last == n + CHANGES
        finally:
            rt.engine.dispose()
            if pg:
                pg.close()
    print(f"[matching] profiles={n:,}  searches={len(queries)} x {args.repeat} (top {PAGE}, explanations included)  "
          f"SQLite store {database_mib:,.0f} MiB")
    print(f"[matching] build from the store (MatchingPlugin.dossier_process_started): {build.total_s:.1f} s "
          f"(CPU {build.cpu_s:.1f} s; other load {build_others:.2f} cores) = store read (context.store.changes: {n:,} entries "
          f"opened) {build.read_s:.1f} s + ProfileIndex.apply {build.apply_s:.1f} s + compact and freeing the documents "
          f"{build.compact_s:.1f} s; cyclic GC within: {build.gc_s:.1f} s (target < 60 s){build_note}")
    print(f"[matching] index memory: {index_mib:,.0f} MiB (tracemalloc: arrays {arrays / 2**20:,.0f} MiB = ProfileIndex.nbytes, "
          f"dictionaries, lists and pseudonyms {(held - arrays) / 2**20:,.0f} MiB); RSS grew {build.rss_mib:,.0f} MiB over the build, "
          f"the documents read included (target < 1024 MiB)")
    print(f"[matching] index search: p50 {ms(p50):.2f} ms, p95 {ms(p95):.2f} ms, max {ms(max(seconds)):.2f} ms; "
          f"mean total {np.mean([a.total for a in reference]):,.0f} matches; other load while timing {timing_others:.2f} cores"
          + (" (PostgreSQL's own included)" if pg else "") + note)
    for kind in KINDS:
        totals = [reference[i].total for i in range(len(queries)) if kinds[i] == kind]
        against = f"   PostgreSQL p50 {ms(by_kind(pg_seconds, kind)):7.2f} ms" if pg else ""
        print(f"[matching]   {kind:38s} p50 {ms(by_kind(seconds, kind)):7.2f} ms{against}   matches {min(totals):>8,} .. {max(totals):,}")
    differing, shared, gap = loop_check
    print(f"[matching] baseline plain Python loop over the documents ({len(subset)} searches): p50 {ms(loop_p50):,.0f} ms; "
          f"index p50 on the same searches, run beside each {ms(index_subset_p50):.2f} ms; ratio {loop_p50 / index_subset_p50:,.0f} "
          f"(target >= 50); totals differing {differing}, top-{PAGE} overlap {shared:.1%}, largest score gap {gap:.2f}")
    pg_p50 = pg_p95 = float("nan")
    if pg:
        pg_p50, pg_p95 = percentile(pg_seconds, 50), percentile(pg_seconds, 95)
        differing, shared, gap = pg_check
        print(f"[matching] baseline PostgreSQL int[] + GIN (intarray gin__int_ops), {pg_note}: p50 {ms(pg_p50):.1f} ms, "
              f"p95 {ms(pg_p95):.1f} ms; ratio p50 {pg_p50 / p50:.1f}, p95 {pg_p95 / p95:.1f} (target >= 10); "
              f"totals differing {differing}, top-{PAGE} overlap {shared:.1%}, largest score gap {gap:.2f}")
    else:
        print(f"[matching] baseline PostgreSQL: {pg_note}")
    c = catch
    rest = c["first"] - c["first_read"] - c["first_apply"] - c["first_search"]
    print(f"[matching] catch-up after {CHANGES:,} profile changes (written with context.store.put in {c['written']:.1f} s), "
          f"through the ranking hook (MatchingPlugin.dossier_candidate_ranking): {ms(c['first']):.1f} ms = store read "
          f"{ms(c['first_read']):.1f} ms + ProfileIndex.apply {ms(c['first_apply']):.1f} ms + the search {ms(c['first_search']):.2f} ms "
          f"+ the rest (the changes let go, cyclic GC {ms(c['first_gc']):.2f} ms) {ms(rest):.2f} ms; "
          f"the next call, nothing new: {ms(c['next']):.2f} ms (store read {ms(c['next_read']):.2f} ms, the search "
          f"{ms(c['next_search']):.2f} ms; the search alone before the changes {ms(c['before']):.2f} ms); apply of {CHANGES:,} "
          f"documents alone, again: {ms(c['apply_again']):.1f} ms")
    return Figures(ms(p50), ms(p95), ms(pg_p50), ms(pg_p95), ms(loop_p50), index_mib, build.total_s)


def postgres_baseline(tax: Taxonomy, pseudonyms: list[str], documents: list[dict[str, Any]]) -> tuple[PostgresBaseline | None, str]:
    """The baseline's database, loaded and indexed; or None and why not."""
    try:
        baseline = PostgresBaseline(tax)
    except Exception as exc:  # no server: say so and go on
        return None, f"skipped, no server at {PG_SERVER} ({type(exc).__name__})"
    try:
        load_s = baseline.load(pseudonyms, documents)
    except Exception as exc:
        baseline.close()
        if "intarray" in str(exc):
            return None, f"skipped, the intarray extension is missing (Debian: postgresql-contrib): {exc}"
        raise
    return baseline, f"loaded and indexed in {load_s:.0f} s"


def catch_up(gateway: Any, build: Build, tax: Taxonomy, seed: int, pseudonyms: list[str],
             queries: list[CandidateQuery]) -> dict[str, float]:
    """1,000 profiles changed through the store, then the plugin's ranking hook as a search calls
    it: its catch-up (the feed since its cursor, ``apply``) and the search; then once more."""
    rng = np.random.default_rng(seed + 1)
    chosen = [pseudonyms[i] for i in rng.choice(len(pseudonyms), CHANGES, replace=False).tolist()]
    fresh = profiles(CHANGES, tax, seed + 2)
    plugin, index, query = build.plugin, build.index, queries[0]
    found: dict[str, float] = {"before": percentile(timed(lambda q: scoring.search(index, q, DECLARED_FACTOR), [query], 5)[0], 50)}
    context = gateway.open_context(PLUGIN, PURPOSE)
    started = time.perf_counter()
    for pseudonym, document in zip(chosen, fresh, strict=True):
        context.store.put(pseudonym, STORE, document)
    found["written"] = time.perf_counter() - started
    cursor = plugin.cursor
    real_search, searching = scoring.search, [0.0]

    def search(*args: Any) -> Any:  # the hook's search, timed
        began = time.perf_counter()
        ranking = real_search(*args)
        searching[0] = time.perf_counter() - began
        return ranking

    clock = _GcClock()
    scoring.search = search  # type: ignore[assignment]
    try:
        for name in ("first", "next"):
            timed_context = _Timed(context, index)
            gc.callbacks.append(clock)
            clock.seconds = 0.0
            try:
                started = time.perf_counter()
                plugin.dossier_candidate_ranking(query, timed_context)
                found[name] = time.perf_counter() - started
            finally:
                gc.callbacks.remove(clock)
                del index.apply
            found[name + "_read"], found[name + "_apply"] = timed_context.read_s, timed_context.apply_s
            found[name + "_search"], found[name + "_gc"] = searching[0], clock.seconds
    finally:
        scoring.search = real_search  # type: ignore[assignment]
    assert plugin.cursor == cursor + CHANGES, "the ranking hook did not catch up every change"
    again = profiles(CHANGES, tax, seed + 3)
    started = time.perf_counter()
    index.apply(zip(chosen, again, strict=True), ())
    found["apply_again"] = time.perf_counter() - started
    context.end()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", default="200000,1000000", help="comma-separated sizes (default 200000,1000000)")
    parser.add_argument("--queries", type=int, default=64, help="searches in the mix (default 64)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over the mix (default 3)")
    parser.add_argument("--loop-queries", type=int, default=24, help="searches timed on the plain loop (default 24)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-postgresql", dest="postgresql", action="store_false")
    parser.add_argument("--settle", type=float, default=900.0,
                        help="before the build and the timed searches, wait up to this many seconds for a quiet machine: "
                             "no benchmark of the audit log running, other processes under --settle-threshold cores (default 900)")
    parser.add_argument("--settle-threshold", type=float, default=0.3, help="cores (default 0.3)")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.profiles.split(",") if s.strip()]
    tax = taxonomy(args.seed)
    mix = searches(args.queries, tax, args.seed)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, numpy {np.__version__}; "
          f"{OCCUPATIONS:,} occupations, {SKILLS:,} skills, {len(places()):,} postal codes")
    figures = None
    for n in sizes:
        figures = run(n, args, tax, mix)
    if figures is None:
        return 1
    f = figures
    print(f"SUMMARY matching profiles={sizes[-1]} p50_ms={f.p50_ms:.2f} p95_ms={f.p95_ms:.2f} pg_p50_ms={f.pg_p50_ms:.1f} "
          f"pg_p95_ms={f.pg_p95_ms:.1f} loop_p50_ms={f.loop_p50_ms:.0f} index_mib={f.index_mib:.0f} build_s={f.build_s:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

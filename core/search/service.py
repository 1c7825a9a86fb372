"""Employers' search of published profiles ("Je cherche un candidat"): one function per user action.

A search checks its criteria against the taxonomy and the postal codes (a bad one changes
nothing), lets every pending profile event reach the plugins (so that the index sees every commit
that finished before the search began), asks the ranking plugin, and then, in one transaction,
decides in one batch which of the ranked seekers the employer may see now (``core.access.
authorize_candidates``: each appearance an audit entry the seeker reads), records the search and
who it showed (each explanation sealed under that seeker's key), and queues the search's event.
The cards are opened after the commit, from the published profile in the dossier.

NOTE: a score ranks candidates for an employer to look at; it decides nothing about a seeker
(GDPR article 22, docs/matching.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from core.access import authorize, authorize_candidates, require_employer_reader, require_employer_user
from core.categories import PROFILE
from core.dossier import records, store as dossier_store
from core.errors import InvalidInput, NotFound
from core.identity.roles import Actor
from core.models import as_utc, new_id
from core.plugins import outbox
from core.plugins.gateway import PluginGateway, RankedPage
from core.policy import Action
from core.runtime import Runtime
from core.search import store
from core.taxonomy.service import labels_of, related_occupations, skills_of, unknown_codes
from plugins.api import CandidateQuery, CriterionMatch, LanguageRequirement, Place, distance_km, locate

# The events whose delivery puts a seeker's profile in a ranking plugin's store.
INDEX_EVENTS = (outbox.Event.PROFILE_PUBLISHED, outbox.Event.PROFILE_CHANGED, outbox.Event.CONSENT_GRANTED)
REF_LENGTH = 32
_EXPLANATION_RECORD = "search"


@dataclass(frozen=True, slots=True)
class Explained:
    """One criterion of one candidate's score."""

    criterion: str
    matched: bool
    value: float
    weight: float
    points: float
    share: float
    validated: bool | None
    fr: str
    en: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """A pseudonymous card: the published fields needed to judge the match, and why it ranks here."""

    candidate_ref: str
    rank: int
    score: float
    explanation: list[Explained]
    occupations: list[str] = field(default_factory=list)
    skills: list[str] = field(default_factory=list)
    languages: list[records.Language] = field(default_factory=list)
    postal_code: str | None = None
    distance_km: int | None = None
    available_from: date | None = None
    contract_types: list[str] = field(default_factory=list)
    working_time: list[str] = field(default_factory=list)
    licences: list[str] = field(default_factory=list)
    education: list[dict[str, Any]] = field(default_factory=list)
    experience: list[dict[str, Any]] = field(default_factory=list)
    validated: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SearchResult:
    search_id: str
    created_at: datetime
    total: int
    offset: int
    limit: int
    candidates: list[Candidate]


@dataclass(frozen=True, slots=True)
class Appearance:
    """A search that showed the seeker: when, which employer, at what rank, and why."""

    search_id: str
    created_at: datetime
    employer_id: str
    employer_name: str
    rank: int
    score: float
    explanation: list[Explained]


@dataclass(frozen=True, slots=True)
class PastSearch:
    search_id: str
    created_at: datetime
    criteria: dict[str, Any]
    total: int
    shown: int
    no_match: bool


def search(rt: Runtime, plugins: PluginGateway, actor: Actor, employer_id: str, criteria: dict[str, Any]) -> SearchResult:
    """Rank the published profiles for ``criteria`` (already checked by the schema); see the module."""
    require_employer_user(actor, employer_id)
    with rt.engine.connect() as conn:
        query = _query(conn, criteria)
    outbox.settle(rt, plugins, INDEX_EVENTS, rt.settings.PLUGIN_TIMEOUT)
    page = _ranked(plugins, query)
    now = rt.clock()
    search_id = new_id()
    ref_key = _ref_key(rt)
    origin = locate(query.postal_code)
    with rt.transaction() as conn:
        allowed = authorize_candidates(conn, actor, [s for s, _ in page.candidates], PROFILE, now=now)
        kept = [(subject_id, c) for subject_id, c in page.candidates if subject_id in allowed]
        total = max(page.total - (len(page.candidates) - len(kept)), len(kept))
        sealed = dossier_store.load_sealed_of(conn, [s for s, _ in kept], PROFILE)
        shown = []
        for rank, (subject_id, ranked) in enumerate(kept, start=query.offset + 1):
            cipher = rt.sealer.cipher(subject_id, allowed[subject_id].key)
            explanation = json.dumps([_criterion_json(c) for c in ranked.criteria], ensure_ascii=False).encode()
            shown.append(store.Appearance(candidate_ref(ref_key, employer_id, subject_id), subject_id, rank, ranked.score,
                                          cipher.seal(_EXPLANATION_RECORD, search_id, explanation)))
        store.insert_search(conn, search_id, employer_id, actor.account_id, criteria, total, shown, now)
        outbox.emit(rt, plugins, conn, outbox.Event.EMPLOYER_SEARCH_PERFORMED, payload=outbox.employer_search_payload(
            search_id, employer_id, {**criteria, "labels": dict(query.labels)}, total), request_id=actor.request_id)
    candidates = []
    for appearance, (subject_id, ranked) in zip(shown, kept, strict=True):
        opened = dossier_store.open_sealed(rt.sealer.cipher(subject_id, allowed[subject_id].key), sealed[subject_id])
        profile = records.sections(opened, PROFILE).profile or records.Profile()
        candidates.append(_card(appearance, _explained(ranked.criteria, ranked.score), profile, origin))
    return SearchResult(search_id, now, total, query.offset, query.limit, candidates)


def past_searches(rt: Runtime, actor: Actor, employer_id: str, limit: int = 50, before: datetime | None = None) -> list[PastSearch]:
    """The employer's searches, newest first: criteria and counts, no candidate; for its users
    and the advisors it is assigned to (whom its searches alert)."""
    with rt.engine.connect() as conn:
        require_employer_reader(conn, actor, employer_id)
        rows = store.searches_of(conn, employer_id, limit, before)
    return [_past(row) for row in rows]


def past_search(rt: Runtime, actor: Actor, employer_id: str, search_id: str) -> PastSearch:
    with rt.engine.connect() as conn:
        require_employer_reader(conn, actor, employer_id)
        row = store.search_of(conn, employer_id, search_id)
    if row is None:
        raise NotFound()
    return _past(row)


def appearances(rt: Runtime, actor: Actor, subject_id: str, limit: int = 100) -> list[Appearance]:
    """The seeker's own view: each search that showed them, with the same explanation the employer
    read (and nothing of the employer's other candidates)."""
    with rt.transaction() as conn:
        allowed = authorize(conn, actor, Action.APPEARANCES_READ, subject_id, (), now=rt.clock())
        rows = store.appearances_of(conn, subject_id, limit)
    cipher = rt.sealer.cipher(subject_id, allowed.key)
    found = []
    for row in rows:
        criteria = [CriterionMatch(**item) for item in json.loads(cipher.open(_EXPLANATION_RECORD, row.search_id, row.explanation))]
        found.append(Appearance(row.search_id, as_utc(row.created_at), row.employer_id, row.employer_name, row.rank, row.score,
                                _explained(tuple(criteria), row.score)))
    return found


def candidate_ref(key: bytes, employer_id: str, subject_id: str) -> str:
    """The name one employer knows a seeker by: two employers get different refs, and a ref says
    nothing of the seeker's id or of any plugin's pseudonym without the instance's key."""
    return hmac.new(key, f"{employer_id}|{subject_id}".encode(), hashlib.sha256).hexdigest()[:REF_LENGTH]


# -- internals ----------------------------------------------------------------------------------


def _ref_key(rt: Runtime) -> bytes:
    return hmac.new(rt.keys.pseudonym_key(), b"dossier/candidate-ref/v1", hashlib.sha256).digest()


def _query(conn: Any, criteria: dict[str, Any]) -> CandidateQuery:
    """The ranking query of checked criteria, with what the taxonomy says of the occupation."""
    occupation = criteria.get("occupation")
    skills = criteria.get("skills") or {}
    required, preferred = tuple(skills.get("required") or ()), tuple(skills.get("preferred") or ())
    if occupation is not None and unknown_codes(conn, "occupation", [occupation]):
        raise InvalidInput(f"Métier inconnu / unknown occupation: {occupation}", field="occupation")
    unknown = unknown_codes(conn, "skill", (*required, *preferred))
    if unknown:
        raise InvalidInput(f"Compétences inconnues / unknown skills: {', '.join(unknown)}", field="skills")
    if criteria.get("postal_code") is not None and locate(criteria["postal_code"]) is None:
        raise InvalidInput("Code postal belge inconnu / unknown Belgian postal code.", field="postal_code")
    related = related_occupations(conn, occupation) if occupation else {}
    relations = {s.code: s.relation for s in skills_of(conn, occupation)} if occupation else {}
    codes = [c for c in (occupation, *related, *required, *preferred) if c]
    return CandidateQuery(
        occupation=occupation, required_skills=required, preferred_skills=preferred,
        languages=tuple(LanguageRequirement(item["code"], item["min_level"]) for item in criteria.get("languages") or ()),
        postal_code=criteria.get("postal_code"), radius_km=criteria.get("radius_km"),
        available_by=criteria.get("available_by"), weights=dict(criteria.get("weights") or {}),
        limit=criteria["limit"], offset=criteria["offset"], contract_types=tuple(criteria.get("contract_types") or ()),
        working_time=tuple(criteria.get("working_time") or ()), licences=tuple(criteria.get("licences") or ()),
        min_experience_months=criteria.get("min_experience_months"), min_education_level=criteria.get("min_education_level"),
        related_occupations=related, skill_relations=relations, labels=labels_of(conn, codes),
    )


def _ranked(plugins: PluginGateway, query: CandidateQuery) -> RankedPage:
    """The page of the first plugin that ranks (the built-in matching plugin unless it is blocked)."""
    pages = plugins.candidate_ranking(query)
    return next(iter(pages.values()), RankedPage([], 0))


def _criterion_json(c: CriterionMatch) -> dict[str, Any]:
    return {"criterion": c.criterion, "matched": c.matched, "value": c.value, "weight": c.weight, "points": c.points,
            "validated": c.validated, "fr": c.fr, "en": c.en}


def _explained(criteria: tuple[CriterionMatch, ...], score: float) -> list[Explained]:
    return [Explained(c.criterion, c.matched, c.value, c.weight, c.points, round(c.points / score, 4) if score else 0.0,
                      c.validated, c.fr, c.en) for c in criteria]


def _card(appearance: store.Appearance, explanation: list[Explained], profile: records.Profile, origin: Place | None) -> Candidate:
    """The card of a published profile: codes, levels, dates and durations; no free text that could
    name the seeker (no employer, institution or description), no identity category."""
    place = locate(profile.postal_code)
    return Candidate(
        candidate_ref=appearance.candidate_ref, rank=appearance.rank, score=appearance.score, explanation=explanation,
        occupations=list(profile.occupations or ()), skills=list(profile.skills or ()),
        languages=list(profile.languages or ()), postal_code=profile.postal_code,
        distance_km=round(distance_km(origin, place)) if origin is not None and place is not None else None,
        available_from=profile.available_from, contract_types=list(profile.contract_types or ()),
        working_time=list(profile.working_time or ()), licences=list(profile.licences or ()),
        education=[{"title": e.title, "level": e.level, "year": e.year} for e in profile.education or ()],
        experience=[{"title": e.title, "occupation": e.occupation, "months": _months(e.start, e.end)}
                    for e in profile.experience or ()],
        validated=sorted(name for name, provenance in profile.provenance.items() if provenance.source == "advisor"),
    )


def _months(start: date | None, end: date | None) -> int | None:
    if start is None:
        return None
    return max(int(((end or date.today()) - start).days / 30.4375), 0)


def _past(row: Any) -> PastSearch:
    criteria = json.loads(row.criteria)
    return PastSearch(row.id, as_utc(row.created_at), criteria, row.total, row.shown, row.total == 0)

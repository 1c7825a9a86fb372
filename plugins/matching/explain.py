"""One sentence per criterion, in French and in English, saying what matched for one candidate.

Only from published fields, and only what the index holds: codes (named by their labels), levels,
a distance rounded to the kilometre, months of experience. Never a name, an address or free text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from plugins.api import LANGUAGE_LEVELS, CandidateQuery

if TYPE_CHECKING:
    from plugins.matching.scoring import _Pool


# (French, English, whether the criterion matched)
Sentence = tuple[str, str, bool]


def label(query: CandidateQuery, code: str, lang: str) -> str:
    return str((query.labels.get(code) or {}).get(lang) or code)


def _quoted(query: CandidateQuery, codes: list[str], lang: str) -> str:
    return ", ".join(f"« {label(query, c, 'fr')} »" if lang == "fr" else f"“{label(query, c, 'en')}”" for c in codes)


def sentences(query: CandidateQuery, pool: _Pool, page: np.ndarray, criteria: Sequence[str]) -> dict[str, list[Sentence]]:
    """For each criterion, the sentence of each candidate at positions ``page`` of the pool.

    What a sentence says of a candidate (its content: the occupation matched exactly or through a
    related one, the preferred skills held, the language levels, the distance, the months) is
    taken for the whole page at once; candidates often share it, so each sentence is made once
    per distinct content and reused.
    """
    made: dict[str, list[Sentence]] = {}
    for name in criteria:
        contents = _CONTENT[name](query, pool, page)
        memo: dict[Any, Sentence] = {}
        said = made[name] = []
        for content in contents:
            sentence = memo.get(content)
            if sentence is None:
                sentence = memo[content] = _SENTENCES[name](query, content)
            said.append(sentence)
    return made


def _occupation(query: CandidateQuery, related: bool) -> Sentence:
    code = query.occupation or ""
    if related:
        return (f"Métier proche de « {label(query, code, 'fr')} » (compétences essentielles en commun)",
                f"An occupation related to “{label(query, code, 'en')}” (shared essential skills)", True)
    return f"Métier « {label(query, code, 'fr')} »", f"Occupation “{label(query, code, 'en')}”", True


def _required(query: CandidateQuery, content: None) -> Sentence:
    codes = list(query.required_skills)
    return (f"Toutes les compétences requises : {_quoted(query, codes, 'fr')}",
            f"Every required skill: {_quoted(query, codes, 'en')}", True)


def _preferred(query: CandidateQuery, held_by_code: tuple[bool, ...]) -> Sentence:
    codes = list(query.preferred_skills)
    held = [c for c, has in zip(codes, held_by_code, strict=True) if has]
    missing = [c for c, has in zip(codes, held_by_code, strict=True) if not has]
    fr = f"{len(held)} compétence(s) souhaitée(s) sur {len(codes)}"
    en = f"{len(held)} of {len(codes)} preferred skills"
    if held:
        fr, en = fr + f" : {_quoted(query, held, 'fr')}", en + f": {_quoted(query, held, 'en')}"
    if missing:
        fr, en = fr + f" ; absente(s) : {_quoted(query, missing, 'fr')}", en + f"; missing: {_quoted(query, missing, 'en')}"
    return fr, en, bool(held)


def _languages(query: CandidateQuery, levels: tuple[int, ...]) -> Sentence:
    parts_fr, parts_en = [], []
    for need, rank in zip(query.languages, levels, strict=True):
        level = LANGUAGE_LEVELS[rank]
        parts_fr.append(f"{need.code} {level} (minimum {need.min_level})")
        parts_en.append(f"{need.code} {level} (at least {need.min_level})")
    return f"Langues : {', '.join(parts_fr)}", f"Languages: {', '.join(parts_en)}", True


def _distance(query: CandidateQuery, km: int | None) -> Sentence:
    if km is None:  # no postal code in the profile
        return ("Pas de code postal dans le profil publié", "No postal code in the published profile", False)
    where_fr = f" (rayon {query.radius_km} km)" if query.radius_km is not None else ""
    where_en = f" (radius {query.radius_km} km)" if query.radius_km is not None else ""
    return (f"À environ {km} km de {query.postal_code}{where_fr}", f"About {km} km from {query.postal_code}{where_en}",
            True)


def _availability(query: CandidateQuery, content: None) -> Sentence:
    return (f"Disponible au plus tard le {query.available_by}", f"Available by {query.available_by}", True)


def _contracts(query: CandidateQuery, content: None) -> Sentence:
    wanted = ", ".join(query.contract_types)
    return f"Accepte un contrat : {wanted}", f"Accepts a contract: {wanted}", True


def _working(query: CandidateQuery, content: None) -> Sentence:
    wanted = ", ".join(query.working_time)
    return f"Régime de travail : {wanted}", f"Working time: {wanted}", True


def _licences(query: CandidateQuery, content: None) -> Sentence:
    wanted = ", ".join(query.licences)
    return f"Permis : {wanted}", f"Driving licences: {wanted}", True


def _experience(query: CandidateQuery, months: int) -> Sentence:
    minimum_fr = f" (minimum {query.min_experience_months})" if query.min_experience_months is not None else ""
    minimum_en = f" (at least {query.min_experience_months})" if query.min_experience_months is not None else ""
    return (f"{months} mois d'expérience dans le métier{minimum_fr}", f"{months} months of experience in the occupation{minimum_en}",
            months > 0)


def _education(query: CandidateQuery, content: None) -> Sentence:
    level = query.min_education_level
    return (f"Diplôme de niveau CITE {level} ou plus", f"A diploma at ISCED level {level} or above", True)


_SENTENCES: dict[str, Any] = {
    "occupation": _occupation, "required_skills": _required, "preferred_skills": _preferred, "languages": _languages,
    "distance": _distance, "availability": _availability, "contract_types": _contracts, "working_time": _working,
    "licences": _licences, "experience": _experience, "education": _education,
}


# What each sentence says of the candidates of a page, as Python values (candidates with the same
# content get the same sentence), taken from the pool's arrays once per page.

def _same(query: CandidateQuery, pool: _Pool, page: np.ndarray) -> list[None]:
    return [None] * len(page)


def _related(query: CandidateQuery, pool: _Pool, page: np.ndarray) -> list[bool]:
    return pool.related[page].tolist() if pool.related is not None else [False] * len(page)


def _held(query: CandidateQuery, pool: _Pool, page: np.ndarray) -> list[tuple[bool, ...]]:
    columns = [pool.held[code][page].tolist() for code in query.preferred_skills]
    return list(zip(*columns, strict=True)) if columns else [()] * len(page)


def _levels(query: CandidateQuery, pool: _Pool, page: np.ndarray) -> list[tuple[int, ...]]:
    columns = [pool.levels[need.code][page].tolist() for need in query.languages]
    return list(zip(*columns, strict=True)) if columns else [()] * len(page)


def _kilometres(query: CandidateQuery, pool: _Pool, page: np.ndarray) -> list[int | None]:
    if pool.distance is None:
        return [None] * len(page)
    return [None if d != d else round(d) for d in pool.distance[page].tolist()]  # NaN: no postal code


def _months(query: CandidateQuery, pool: _Pool, page: np.ndarray) -> list[int]:
    return pool.months[page].tolist() if pool.months is not None else [0] * len(page)


_CONTENT: dict[str, Any] = {
    "occupation": _related, "required_skills": _same, "availability": _same, "contract_types": _same,
    "working_time": _same, "licences": _same, "education": _same, "preferred_skills": _held, "languages": _levels,
    "distance": _kilometres, "experience": _months,
}

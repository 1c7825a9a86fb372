"""One sentence per criterion, in French and in English, saying what matched for one candidate.

Only from published fields, and only what the index holds: codes (named by their labels), levels,
a distance rounded to the kilometre, months of experience. Never a name, an address or free text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plugins.api import LANGUAGE_LEVELS, CandidateQuery

if TYPE_CHECKING:
    from plugins.matching.scoring import _Pool


def label(query: CandidateQuery, code: str, lang: str) -> str:
    return str((query.labels.get(code) or {}).get(lang) or code)


def _quoted(query: CandidateQuery, codes: list[str], lang: str) -> str:
    return ", ".join(f"« {label(query, c, 'fr')} »" if lang == "fr" else f"“{label(query, c, 'en')}”" for c in codes)


class Sentences:
    """The sentences of one search's page: (French, English, matched) for a criterion and the
    candidate at position ``i`` of the pool.

    Candidates often share what a sentence says of them (the same occupation match, the same
    skills held, the same levels), so each sentence is made once per distinct content and reused.
    """

    def __init__(self, query: CandidateQuery, pool: _Pool) -> None:
        self._query, self._pool = query, pool
        self._made: dict[tuple[str, Any], tuple[str, str, bool]] = {}

    def __call__(self, name: str, i: int) -> tuple[str, str, bool]:
        key = (name, _CONTENT[name](self._pool, i))
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = _SENTENCES[name](self._query, self._pool, i)
        return made


def _occupation(query: CandidateQuery, pool: _Pool, i: int) -> tuple[str, str, bool]:
    code = query.occupation or ""
    if pool.related is not None and bool(pool.related[i]):
        return (f"Métier proche de « {label(query, code, 'fr')} » (compétences essentielles en commun)",
                f"An occupation related to “{label(query, code, 'en')}” (shared essential skills)", True)
    return f"Métier « {label(query, code, 'fr')} »", f"Occupation “{label(query, code, 'en')}”", True


def _required(query: CandidateQuery, pool: _Pool, i: int) -> tuple[str, str, bool]:
    codes = list(query.required_skills)
    return (f"Toutes les compétences requises : {_quoted(query, codes, 'fr')}",
            f"Every required skill: {_quoted(query, codes, 'en')}", True)


def _preferred(query: CandidateQuery, pool: _Pool, i: int) -> tuple[str, str, bool]:
    codes = list(query.preferred_skills)
    held = [c for c in codes if bool(pool.held[c][i])]
    missing = [c for c in codes if c not in held]
    fr = f"{len(held)} compétence(s) souhaitée(s) sur {len(codes)}"
    en = f"{len(held)} of {len(codes)} preferred skills"
    if held:
        fr, en = fr + f" : {_quoted(query, held, 'fr')}", en + f": {_quoted(query, held, 'en')}"
    if missing:
        fr, en = fr + f" ; absente(s) : {_quoted(query, missing, 'fr')}", en + f"; missing: {_quoted(query, missing, 'en')}"
    return fr, en, bool(held)


def _languages(query: CandidateQuery, pool: _Pool, i: int) -> tuple[str, str, bool]:
    parts_fr, parts_en = [], []
    for need in query.languages:
        level = LANGUAGE_LEVELS[int(pool.levels[need.code][i])]
        parts_fr.append(f"{need.code} {level} (minimum {need.min_level})")
        parts_en.append(f"{need.code} {level} (at least {need.min_level})")
    return f"Langues : {', '.join(parts_fr)}", f"Languages: {', '.join(parts_en)}", True


def _distance(query: CandidateQuery, pool: _Pool, i: int) -> tuple[str, str, bool]:
    distance: Any = pool.distance[i] if pool.distance is not None else float("nan")
    if distance != distance:  # NaN: no postal code in the profile
        return ("Pas de code postal dans le profil publié", "No postal code in the published profile", False)
    km = round(float(distance))
    where_fr = f" (rayon {query.radius_km} km)" if query.radius_km is not None else ""
    where_en = f" (radius {query.radius_km} km)" if query.radius_km is not None else ""
    return (f"À environ {km} km de {query.postal_code}{where_fr}", f"About {km} km from {query.postal_code}{where_en}",
            True)


def _availability(query: CandidateQuery, pool: _Pool, i: int) -> tuple[str, str, bool]:
    return (f"Disponible au plus tard le {query.available_by}", f"Available by {query.available_by}", True)


def _contracts(query: CandidateQuery, pool: _Pool, i: int) -> tuple[str, str, bool]:
    wanted = ", ".join(query.contract_types)
    return f"Accepte un contrat : {wanted}", f"Accepts a contract: {wanted}", True


def _working(query: CandidateQuery, pool: _Pool, i: int) -> tuple[str, str, bool]:
    wanted = ", ".join(query.working_time)
    return f"Régime de travail : {wanted}", f"Working time: {wanted}", True


def _licences(query: CandidateQuery, pool: _Pool, i: int) -> tuple[str, str, bool]:
    wanted = ", ".join(query.licences)
    return f"Permis : {wanted}", f"Driving licences: {wanted}", True


def _experience(query: CandidateQuery, pool: _Pool, i: int) -> tuple[str, str, bool]:
    months = int(pool.months[i]) if pool.months is not None else 0
    minimum_fr = f" (minimum {query.min_experience_months})" if query.min_experience_months is not None else ""
    minimum_en = f" (at least {query.min_experience_months})" if query.min_experience_months is not None else ""
    return (f"{months} mois d'expérience dans le métier{minimum_fr}", f"{months} months of experience in the occupation{minimum_en}",
            months > 0)


def _education(query: CandidateQuery, pool: _Pool, i: int) -> tuple[str, str, bool]:
    level = query.min_education_level
    return (f"Diplôme de niveau CITE {level} ou plus", f"A diploma at ISCED level {level} or above", True)


_SENTENCES = {
    "occupation": _occupation, "required_skills": _required, "preferred_skills": _preferred, "languages": _languages,
    "distance": _distance, "availability": _availability, "contract_types": _contracts, "working_time": _working,
    "licences": _licences, "experience": _experience, "education": _education,
}


def _none(pool: _Pool, i: int) -> None:
    return None


def _distance_content(pool: _Pool, i: int) -> int | None:
    distance = float(pool.distance[i]) if pool.distance is not None else float("nan")
    return None if distance != distance else round(distance)


# What of the candidate each sentence says: candidates with the same content get the same sentence.
_CONTENT: dict[str, Any] = {
    "occupation": lambda pool, i: pool.related is not None and bool(pool.related[i]),
    "required_skills": _none, "availability": _none, "contract_types": _none, "working_time": _none,
    "licences": _none, "education": _none,
    "preferred_skills": lambda pool, i: tuple(bool(held[i]) for held in pool.held.values()),
    "languages": lambda pool, i: tuple(int(levels[i]) for levels in pool.levels.values()),
    "distance": _distance_content,
    "experience": lambda pool, i: int(pool.months[i]) if pool.months is not None else 0,
}

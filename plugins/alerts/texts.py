"""What an alert says, in French and in English: plain text made of an employer's criteria
(codes named by their labels) and counts. Never anything about a candidate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any


def label(criteria: Mapping[str, Any], code: str, lang: str) -> str:
    labels = criteria.get("labels") or {}
    return str((labels.get(code) or {}).get(lang) or code)


def sought(criteria: Mapping[str, Any], lang: str) -> str:
    """The occupation sought, else the skills, in a few words."""
    if criteria.get("occupation"):
        return label(criteria, criteria["occupation"], lang)
    skills = criteria.get("skills") or {}
    codes = [*(skills.get("required") or ()), *(skills.get("preferred") or ())]
    if codes:
        return ", ".join(label(criteria, c, lang) for c in codes[:3]) + ("…" if len(codes) > 3 else "")
    return "profil sans métier précisé" if lang == "fr" else "a profile with no occupation given"


def quoted(text: str, lang: str) -> str:
    return f"« {text} »" if lang == "fr" else f"“{text}”"


def search_title(criteria: Mapping[str, Any], match_count: int, lang: str) -> str:
    what = quoted(sought(criteria, lang), lang)
    if lang == "fr":
        return f"Recherche sans résultat : {what}" if match_count == 0 else f"Recherche {what} : {match_count} profil(s)"
    return f"A search found no one: {what}" if match_count == 0 else f"Search for {what}: {match_count} profile(s)"


def criteria_lines(criteria: Mapping[str, Any], lang: str) -> list[str]:
    fr = lang == "fr"
    lines = []
    if criteria.get("occupation"):
        lines.append(("Métier : " if fr else "Occupation: ") + label(criteria, criteria["occupation"], lang))
    skills = criteria.get("skills") or {}
    for key, fr_name, en_name in (("required", "Compétences requises : ", "Required skills: "),
                                  ("preferred", "Compétences souhaitées : ", "Preferred skills: ")):
        if skills.get(key):
            lines.append((fr_name if fr else en_name) + ", ".join(label(criteria, c, lang) for c in skills[key]))
    if criteria.get("languages"):
        lines.append(("Langues : " if fr else "Languages: ")
                     + ", ".join(f"{item.get('code')} ≥ {item.get('min_level')}" for item in criteria["languages"]))
    if criteria.get("postal_code"):
        radius = criteria.get("radius_km")
        where = criteria["postal_code"] + (f" ({radius} km)" if radius is not None else "")
        lines.append(("Lieu : " if fr else "Place: ") + where)
    for key, fr_name, en_name in (("contract_types", "Contrat : ", "Contract: "), ("licences", "Permis : ", "Licences: ")):
        if criteria.get(key):
            lines.append((fr_name if fr else en_name) + ", ".join(str(v) for v in criteria[key]))
    if criteria.get("min_experience_months") is not None:
        months = criteria["min_experience_months"]
        lines.append(f"Expérience minimale : {months} mois" if fr else f"Minimum experience: {months} months")
    return lines


def search_text(criteria: Mapping[str, Any], match_count: int, employer: str, at: datetime, lang: str) -> str:
    fr = lang == "fr"
    when = at.strftime("%Y-%m-%d %H:%M UTC")
    if fr:
        head = f"L'employeur {employer} a cherché un candidat le {when}."
        found = ("Aucun profil publié ne correspond : l'employeur a peut-être besoin de vous."
                 if match_count == 0 else f"{match_count} profil(s) publié(s) correspondent.")
    else:
        head = f"The employer {employer} searched for a candidate on {when}."
        found = ("No published profile matches: the employer may need you."
                 if match_count == 0 else f"{match_count} published profile(s) match.")
    return "\n".join([head, *criteria_lines(criteria, lang), found])


def digest_title(period: str, entries: Sequence[Mapping[str, Any]], lang: str) -> str:
    misses = sum(1 for e in entries if e["no_match"])
    if lang == "fr":
        name = "quotidienne" if period == "daily" else "hebdomadaire"
        return f"Synthèse {name} : {len(entries)} recherche(s), dont {misses} sans résultat"
    name = "Daily" if period == "daily" else "Weekly"
    return f"{name} digest: {len(entries)} search(es), {misses} found no one"


def digest_text(entries: Sequence[Mapping[str, Any]], lang: str) -> str:
    """One line per search, those that found no one first, then the latest first."""
    fr = lang == "fr"
    latest_first = sorted(entries, key=lambda e: e["at"], reverse=True)
    ordered = sorted(latest_first, key=lambda e: not e["no_match"])  # stable: no-match first
    lines = ["Les recherches de vos employeurs :" if fr else "Your employers' searches:"]
    for entry in ordered:
        what = quoted(entry["sought"][lang], lang)
        count = (("aucun résultat" if fr else "no match") if entry["no_match"]
                 else (f"{entry['match_count']} profil(s)" if fr else f"{entry['match_count']} profile(s)"))
        lines.append(f"- {entry['at'][:16].replace('T', ' ')} {entry['employer']} : {what}, {count}" if fr
                     else f"- {entry['at'][:16].replace('T', ' ')} {entry['employer']}: {what}, {count}")
    return "\n".join(lines)

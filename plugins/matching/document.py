"""What the index keeps of one published profile: a compact document built from the view.

The document holds codes and numbers only, the fields that searches filter and rank on, each
category's validation flag, and nothing free-text (no title, employer or description). It is kept
in the plugin's per-seeker store (sealed under the seeker's key, deleted with the consent) and
read back from the store's change feed by every process.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from plugins.api import LANGUAGE_LEVELS, SubjectView

# Profile category -> the short name the document and the explanations use.
CATEGORY_FLAGS: dict[str, str] = {
    "profile.occupations": "occupation",
    "profile.skills": "skills",
    "profile.languages": "languages",
    "profile.location": "location",
    "profile.availability": "availability",
    "profile.contract_preferences": "contract",
    "profile.licences": "licences",
    "profile.experience": "experience",
    "profile.education": "education",
}
# An education level written as an ISCED 2011 level: "4", "ISCED 4", "isced-6".
_ISCED = re.compile(r"^\s*(?:isced[\s_-]*)?([0-8])\s*$", re.IGNORECASE)
_DAYS_PER_MONTH = 30.4375


def document_of(view: SubjectView, today: date) -> dict[str, Any]:
    """The index document of ``view`` (a profile released under ``profile.matching``)."""
    occupations = _codes(view.get("profile.occupations"))
    experience = _experience_months(view.get("profile.experience") or (), today)
    location = view.get("profile.location") or {}
    contract = view.get("profile.contract_preferences") or {}
    return {
        # Declared occupations first, then those of past jobs: either makes an occupation match.
        "occupations": list(dict.fromkeys([*occupations, *experience])),
        "experience": experience,
        "skills": _codes(view.get("profile.skills")),
        "languages": _languages(view.get("profile.languages") or ()),
        "postal_code": location.get("postal_code"),
        "mobility_km": location.get("mobility_radius_km"),
        "available_from": view.get("profile.availability"),
        "contract_types": _codes(contract.get("contract_types")),
        "working_time": _codes(contract.get("working_time")),
        "licences": _codes(view.get("profile.licences")),
        "education": _education_level(view.get("profile.education") or ()),
        "validated": sorted(CATEGORY_FLAGS[c] for c in view.validated if c in CATEGORY_FLAGS),
    }


def _codes(value: Any) -> list[str]:
    return [str(v) for v in value] if value else []


def _languages(items: Any) -> dict[str, int]:
    """Language code -> level rank (0 for A1 ... 6 for native), the best level given for each."""
    levels: dict[str, int] = {}
    for item in items:
        if isinstance(item, Mapping) and item.get("level") in LANGUAGE_LEVELS:
            rank = LANGUAGE_LEVELS.index(item["level"])
            levels[str(item["code"])] = max(rank, levels.get(str(item["code"]), -1))
    return levels


def _experience_months(items: Any, today: date) -> dict[str, int]:
    """Occupation code -> months of experience in it (a job without an end runs until today)."""
    months: dict[str, float] = {}
    for item in items:
        if not isinstance(item, Mapping) or not item.get("occupation") or not item.get("start"):
            continue
        start = date.fromisoformat(item["start"])
        end = date.fromisoformat(item["end"]) if item.get("end") else today
        if end > start:
            code = str(item["occupation"])
            months[code] = months.get(code, 0.0) + (end - start).days / _DAYS_PER_MONTH
    return {code: int(total) for code, total in months.items()}


def _education_level(items: Any) -> int | None:
    """The highest ISCED level among the diplomas whose level is written as one."""
    levels = [int(m.group(1)) for item in items if isinstance(item, Mapping)
              for m in [_ISCED.match(str(item.get("level") or ""))] if m]
    return max(levels) if levels else None

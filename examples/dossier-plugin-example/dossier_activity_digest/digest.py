"""The digest itself: activities per month and kind, computed from a view (a pure function).

It is recomputed from the whole view on every call rather than incremented, so that an event
delivered twice (delivery is at least once) or missed (a failed call is not retried) leaves the
digest right at the next call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

# The categories the plugin reads, and the key each one has in the digest.
KINDS: dict[str, str] = {
    "activity.applications": "applications",
    "activity.trainings": "trainings",
    "activity.interviews": "interviews",
}


def monthly_counts(view: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """``{"2026-11": {"applications": 2, "interviews": 0, "trainings": 1}, ...}``, months in order.

    A month is the one of the activity's ``occurred_at``, in the offset the seeker gave it. A
    category the view does not hold counts nothing; a record without a readable date is skipped.
    """
    months: dict[str, dict[str, int]] = {}
    for category, kind in KINDS.items():
        for record in _records(view, category):
            month = _month(record.get("occurred_at"))
            if month is None:
                continue
            counts = months.setdefault(month, dict.fromkeys(sorted(KINDS.values()), 0))
            counts[kind] += 1
    return dict(sorted(months.items()))


def _records(view: Mapping[str, Any], category: str) -> Iterable[Mapping[str, Any]]:
    # ``get`` and not ``[]``: a category not released raises NotReleased, a KeyError.
    return view.get(category) or ()


def _month(occurred_at: Any) -> str | None:
    if not isinstance(occurred_at, str):
        return None
    try:
        return datetime.fromisoformat(occurred_at).strftime("%Y-%m")
    except ValueError:
        return None

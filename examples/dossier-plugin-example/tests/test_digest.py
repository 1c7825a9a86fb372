"""The counting alone, on views built by hand (a plugin's logic is testable without the service)."""

from __future__ import annotations

import pytest

from plugins.api import NotReleased, Revoked, SubjectView

from dossier_activity_digest.digest import monthly_counts
from dossier_activity_digest.plugin import PURPOSE


def activity(kind: str, occurred_at: object) -> dict[str, object]:
    return {"ref": f"ref-{kind}-{occurred_at}", "kind": kind, "occurred_at": occurred_at, "description": "…",
            "recorded_at": "2026-12-01T08:00:00+00:00"}


def view(**categories: list[dict[str, object]]) -> SubjectView:
    return SubjectView("pseudonym", PURPOSE, {f"activity.{name}": records for name, records in categories.items()})


def test_activities_are_counted_by_the_month_the_seeker_gave_them() -> None:
    counted = monthly_counts(view(
        applications=[activity("application", "2026-11-30T23:30:00+01:00"), activity("application", "2027-01-02T10:00:00+01:00")],
        trainings=[activity("training", "2026-11-02T10:00:00+01:00")],
        interviews=[],
    ))
    assert counted == {
        "2026-11": {"applications": 1, "interviews": 0, "trainings": 1},
        "2027-01": {"applications": 1, "interviews": 0, "trainings": 0},
    }
    assert list(counted) == sorted(counted)


def test_a_category_not_released_counts_nothing() -> None:
    only_trainings = view(trainings=[activity("training", "2026-11-02T10:00:00+01:00")])
    with pytest.raises(NotReleased):
        only_trainings["activity.applications"]
    assert monthly_counts(only_trainings) == {"2026-11": {"applications": 0, "interviews": 0, "trainings": 1}}


@pytest.mark.parametrize("occurred_at", [None, "", "le 3 novembre", 20261103])
def test_a_record_without_a_readable_date_is_skipped(occurred_at: object) -> None:
    assert monthly_counts(view(applications=[activity("application", occurred_at)])) == {}


def test_a_view_cannot_be_read_after_its_call() -> None:
    kept = view(applications=[activity("application", "2026-11-02T10:00:00+01:00")])
    kept._revoke()  # what the service does when the hook returns
    with pytest.raises(Revoked):
        monthly_counts(kept)

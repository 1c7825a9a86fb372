"""A plugin's own store: sealed at rest, bound to the call's purpose, gone with the consent."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.api import CandidateQuery, NotHeld, RankedCandidate, StoredData
from tests.acceptance.test_at_rest import raw_database_bytes
from tests.plugins.conftest import make_plugin
from tests.plugins.helpers import SKILLS, grant, trigger, withdraw

MARKER = "QxStoreMarker4471"
EVENT = "dossier_activity_recorded"


class Indexer:
    """Keeps a per-seeker index entry and a shared counter on each activity; ranks from the index."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def hooks(self) -> dict[str, Any]:
        def recorded(plugin: Any, view: Any, event: Any, context: Any) -> None:
            context.store.put(view.pseudonym, "index", {"note": MARKER, "applications": len(view["activity.applications"])})
            count = context.shared.get("counters", "activities") or 0
            context.shared.put("counters", "activities", count + 1)
            self.seen.append((view.pseudonym, context.store.get(view.pseudonym, "index")))

        def published(plugin: Any, view: Any, event: Any, context: Any) -> None:
            if context.purpose == "profile.matching":
                context.store.put(view.pseudonym, "index", {"skills": list(view["profile.skills"] or ())})

        def ranking(plugin: Any, query: Any, context: Any) -> list[RankedCandidate]:
            found = [RankedCandidate(pseudonym, float(len(entry["skills"])), ("skills",))
                     for pseudonym, entry in context.store.items("index")]
            return found + [RankedCandidate("forged", 99.0)]  # a pseudonym it never received

        return {EVENT: recorded, "dossier_profile_published": published, "dossier_candidate_ranking": ranking}


@pytest.fixture
def indexer() -> Indexer:
    return Indexer()


@pytest.fixture
def plugins(indexer: Indexer) -> list[Any]:
    hooks = indexer.hooks()
    return [make_plugin(
        "indexer", purposes=("indexer.insight", "profile.matching"), events=(EVENT, "dossier_profile_published"), extra=hooks,
        stores=(StoredData("index", "activity counts by seeker"), StoredData("counters", "totals", per_subject=False)),
    )]


def stored_rows(rt: Any) -> int:
    from sqlalchemy import func, select

    from core.plugins.models import plugin_subject_data

    with rt.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(plugin_subject_data)).scalar_one())


def entries(gateway: Any) -> list[tuple[str, Any]]:
    """What the plugin's store yields under its insight purpose, read through a fresh context."""
    context = gateway.open_context("indexer", "indexer.insight")
    return list(context.store.items("index"))


def test_entries_are_sealed_at_rest_and_read_back_while_the_consent_is_live(client, rt, gateway, indexer, seeker, advisor) -> None:
    grant(client, seeker, "indexer.insight")
    trigger(EVENT, client, rt, seeker, advisor)
    pseudonym, stored = indexer.seen[0]
    assert stored == {"note": MARKER, "applications": 1}
    assert entries(gateway) == [(pseudonym, {"note": MARKER, "applications": 1})]
    assert MARKER.encode() not in raw_database_bytes(rt)


def test_withdrawal_deletes_the_entries_and_they_cannot_be_written_again(client, rt, gateway, indexer, seeker, advisor) -> None:
    grant(client, seeker, "indexer.insight")
    trigger(EVENT, client, rt, seeker, advisor)
    pseudonym = indexer.seen[0][0]
    assert stored_rows(rt) == 1
    withdraw(client, seeker, "indexer.insight")
    assert stored_rows(rt) == 0  # deleted, not merely hidden
    assert entries(gateway) == []
    context = gateway.open_context("indexer", "indexer.insight")
    with pytest.raises(NotHeld):
        context.store.put(pseudonym, "index", {"note": "again"})
    assert context.store.get(pseudonym, "index") is None


def test_a_store_accepts_only_the_names_its_manifest_declares(gateway) -> None:
    context = gateway.open_context("indexer", "indexer.insight")
    with pytest.raises(ValueError, match="not a per-seeker store"):
        context.store.put("someone", "profiles", {})
    with pytest.raises(ValueError, match="not a shared store"):
        context.shared.put("index", "k", 1)  # a per-seeker store is not shared
    no_purpose = gateway.open_context("indexer", None)
    with pytest.raises(ValueError, match="under no purpose"):
        no_purpose.store.put("someone", "index", {})


def test_shared_entries_are_the_plugins_own(client, rt, gateway, indexer, seeker, advisor) -> None:
    grant(client, seeker, "indexer.insight")
    trigger(EVENT, client, rt, seeker, advisor)
    trigger(EVENT, client, rt, seeker, advisor)
    context = gateway.open_context("indexer", None)
    assert list(context.shared.items("counters")) == [("activities", 2)]


def test_ranking_answers_only_with_seekers_whose_matching_consent_is_live(client, rt, gateway, seeker, make_person) -> None:
    from core.identity.roles import Role

    other = make_person(Role.SEEKER)
    for person in (seeker, other):
        assert client.patch(f"/api/v1/seekers/{person.subject_id}/profile", json={"skills": SKILLS},
                            headers=person.auth).status_code == 200
        assert client.post(f"/api/v1/seekers/{person.subject_id}/publication", headers=person.auth).status_code == 201
    assert client.delete(f"/api/v1/seekers/{other.subject_id}/publication", headers=other.auth).status_code == 200
    ranked = gateway.candidate_ranking(CandidateQuery("occ.bricklayer"))
    # `other` unpublished (purged), and the forged pseudonym maps to nobody.
    assert [(subject, candidate.score) for subject, candidate in ranked["indexer"].candidates] == [(seeker.subject_id, 2.0)]
    assert ranked["indexer"].candidates[0][1].pseudonym != seeker.subject_id

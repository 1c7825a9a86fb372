"""The gateway: the only code that hands anything to a plugin (DESIGN.md section 8).

For an event about a seeker, each plugin whose manifest lists it is considered alone, under each
purpose it serves that could release something the event is about: the decision point decides,
the decision is recorded, and only then is the plugin called, with a view of the allowed
categories and nothing else. One plugin's failure is its own: the others are still called.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, exists, select

from consent.store import live_consent_clause
from core.categories import ACTIVITY, ALL_CATEGORIES, CONTACTS, PROFILE
from core.models import subjects
from core.plugins.context import call_plugin, record_incident
from core.plugins.models import plugin_holdings
from core.plugins.registry import RANKING_PURPOSE, Plugin
from core.plugins.release import release_view
from plugins.api import CandidateQuery, ContactRequestDecision, EmployerSearch, RankedCandidate, SubjectEvent

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger("dossier.plugins")

# What each event is about: a plugin is called under a purpose only if that purpose would release
# some of these categories to it (an activity recorded says nothing to a profile-only purpose).
EVENT_CATEGORIES: dict[str, frozenset[str]] = {
    "dossier_profile_published": PROFILE | ACTIVITY,
    "dossier_profile_changed": PROFILE,
    "dossier_activity_recorded": ACTIVITY,
    "dossier_contact_recorded": CONTACTS,
    "dossier_contact_request_decided": ALL_CATEGORIES,
}


def purposes_for(rt: Runtime, plugin: Plugin, event: str) -> list[str]:
    """The purposes of ``plugin`` under which ``event`` could release something to it."""
    about = EVENT_CATEGORIES[event]
    found = []
    for purpose in plugin.manifest.purposes:
        facts = rt.plugins.purposes.get(purpose)
        if facts is not None and plugin.categories & facts.categories & about:
            found.append(purpose)
    return found


def deliver_subject_event(rt: Runtime, event: str, subject_id: str, record_id: str | None, occurred_at: datetime,
                          decision: ContactRequestDecision | None = None) -> None:
    """Tell every subscribed plugin, under each of its purposes the decision point allows now."""
    for plugin in rt.plugins.subscribers(event):
        for purpose in purposes_for(rt, plugin, event):
            view = release_view(rt, rt.plugins, plugin, subject_id, purpose, rt.clock())
            if view is None:
                continue  # refused, and recorded as such
            if event == "dossier_contact_request_decided":
                call_plugin(rt, plugin, event, purpose, view=view, decision=decision)
            else:
                record = rt.plugins.record_ref(plugin.name, record_id) if record_id else None
                call_plugin(rt, plugin, event, purpose, view=view,
                            event=SubjectEvent(event.removeprefix("dossier_"), occurred_at, record))


def deliver_employer_search(rt: Runtime, search: EmployerSearch) -> None:
    """Tell every subscribed plugin of an employer's search (it carries nothing about a seeker)."""
    for plugin in rt.plugins.subscribers("dossier_employer_search_performed"):
        call_plugin(rt, plugin, "dossier_employer_search_performed", None, search=search)


def rank_candidates(rt: Runtime, query: CandidateQuery) -> dict[str, list[tuple[str, RankedCandidate]]]:
    """Each ranking plugin's candidates, as (subject id, candidate), for seekers still live.

    A plugin answers with its pseudonyms; they are mapped back through its holdings, and any that
    is not (or no longer) a seeker whose ``profile.matching`` consent is live now is dropped.
    """
    ranked: dict[str, list[tuple[str, RankedCandidate]]] = {}
    for plugin in rt.plugins.implementing("dossier_candidate_ranking"):
        result = call_plugin(rt, plugin, "dossier_candidate_ranking", RANKING_PURPOSE, query=query)
        if not result.ok:
            continue
        try:
            candidates = [c for c in (result.value or ()) if isinstance(c, RankedCandidate)][: max(query.limit, 0)]
        except TypeError:
            record_incident(rt, plugin.name, "dossier_candidate_ranking", "invalid", "not an iterable of RankedCandidate")
            continue
        subjects_of = _live_holders(rt, plugin.name, [c.pseudonym for c in candidates])
        ranked[plugin.name] = [(subjects_of[c.pseudonym], c) for c in candidates if c.pseudonym in subjects_of]
    return ranked


def _live_holders(rt: Runtime, plugin: str, pseudonyms: Iterable[str]) -> dict[str, str]:
    wanted = sorted({p for p in pseudonyms if isinstance(p, str)})
    if not wanted:
        return {}
    now = rt.clock()
    query = (
        select(plugin_holdings.c.pseudonym, plugin_holdings.c.subject_id)
        .join(subjects, subjects.c.id == plugin_holdings.c.subject_id)
        .where(and_(plugin_holdings.c.plugin == plugin, plugin_holdings.c.purpose == RANKING_PURPOSE,
                    plugin_holdings.c.pseudonym.in_(wanted), subjects.c.erased_at.is_(None),
                    exists().where(live_consent_clause(subjects.c.id, RANKING_PURPOSE, now))))
    )
    with rt.engine.connect() as conn:
        return {pseudonym: subject_id for pseudonym, subject_id in conn.execute(query).all()}

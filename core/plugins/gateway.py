"""The gateway: the only code that hands anything to a plugin (DESIGN.md section 8).

For an event about a seeker, each plugin whose manifest lists it is considered alone, under each
purpose it serves that could release something the event is about: the decision point decides,
the decision is recorded, and only then is the plugin called, with a view of the allowed
categories and nothing else. One plugin's failure is its own: the others are still called.
"""

from __future__ import annotations

import dataclasses
import logging
import math
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
from plugins.api import CandidateQuery, ContactRequestDecision, EmployerSearch, RankedCandidate, SubjectEvent, frozen

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger("dossier.plugins")
MAX_EXPLANATIONS, MAX_EXPLANATION = 10, 200

# What each event is about: a plugin is called under a purpose only if that purpose releases some
# of these categories to it, and its view holds those alone (an activity recorded says nothing to a
# profile-only purpose, and brings no identity with it).
EVENT_CATEGORIES: dict[str, frozenset[str]] = {
    "dossier_profile_published": PROFILE | ACTIVITY,
    "dossier_profile_changed": PROFILE,
    "dossier_activity_recorded": ACTIVITY,
    "dossier_contact_recorded": CONTACTS,
    # The profile the employer saw; never the name and contact details the seeker gave that
    # employer by accepting (employer.contact is for that employer alone).
    "dossier_contact_request_decided": PROFILE,
    "dossier_consent_granted": ALL_CATEGORIES,
}


def purposes_for(rt: Runtime, plugin: Plugin, event: str, only: str | None = None,
                 record_category: str | None = None) -> list[str]:
    """The purposes of ``plugin`` (or just ``only``) under which ``event`` releases something to it;
    for an event about one record, only those that release that record's category."""
    about = EVENT_CATEGORIES[event] if record_category is None else frozenset({record_category})
    found = []
    for purpose in plugin.manifest.purposes:
        if only is not None and purpose != only:
            continue
        facts = rt.plugins.purposes.get(purpose)
        if facts is not None and plugin.categories & facts.categories & about:
            found.append(purpose)
    return found


def deliver_subject_event(rt: Runtime, event: str, subject_id: str, record_id: str | None, occurred_at: datetime, *,
                          record_category: str | None = None, decision: ContactRequestDecision | None = None,
                          purpose_granted: str | None = None) -> None:
    """Tell every subscribed plugin, under each of its purposes the decision point allows now
    (for a consent granted, under that purpose only)."""
    for plugin in rt.plugins.subscribers(event):
        declared = plugin.categories & EVENT_CATEGORIES[event]
        for purpose in purposes_for(rt, plugin, event, only=purpose_granted, record_category=record_category):
            if rt.plugins.calls.busy(plugin.name):
                # Nothing is released to a plugin that cannot take it: its last call still runs.
                record_incident(rt, plugin.name, event, "busy", "previous call still running")
                break
            view = release_view(rt, rt.plugins, plugin, subject_id, purpose, rt.clock(), declared)
            if view is None:
                continue  # refused, and recorded as such
            if event == "dossier_contact_request_decided" and decision is not None:
                # Each plugin gets its own copy: what one does to it reaches no other.
                call_plugin(rt, plugin, event, purpose, view=view, decision=dataclasses.replace(decision))
            else:
                record = rt.plugins.record_ref(plugin.name, record_id) if record_id else None
                call_plugin(rt, plugin, event, purpose, view=view,
                            event=SubjectEvent(event.removeprefix("dossier_"), occurred_at, record))


def deliver_employer_search(rt: Runtime, search: EmployerSearch) -> None:
    """Tell every subscribed plugin of an employer's search (it carries nothing about a seeker)."""
    for plugin in rt.plugins.subscribers("dossier_employer_search_performed"):
        own = dataclasses.replace(search, criteria=frozen(dict(search.criteria)))
        call_plugin(rt, plugin, "dossier_employer_search_performed", None, search=own)


def rank_candidates(rt: Runtime, query: CandidateQuery) -> dict[str, list[tuple[str, RankedCandidate]]]:
    """Each ranking plugin's candidates, as (subject id, candidate), for seekers still live.

    A plugin answers with its pseudonyms; they are mapped back through its holdings, and any that
    is not (or no longer) a seeker whose ``profile.matching`` consent is live now is dropped. The
    answer is read inside the isolated call, at most ``limit`` items; what is not a well-formed
    candidate (a string pseudonym, a finite score, texts of explanation) is dropped.
    """
    ranked: dict[str, list[tuple[str, RankedCandidate]]] = {}
    limit = max(query.limit, 0)
    for plugin in rt.plugins.implementing("dossier_candidate_ranking"):
        result = call_plugin(rt, plugin, "dossier_candidate_ranking", RANKING_PURPOSE, collect=limit, query=_own_query(query))
        if not result.ok:
            continue
        candidates = [c for c in map(_clean, result.value or ()) if c is not None]
        subjects_of = _live_holders(rt, plugin.name, [c.pseudonym for c in candidates])
        ranked[plugin.name] = [(subjects_of[c.pseudonym], c) for c in candidates if c.pseudonym in subjects_of]
    return ranked


def _own_query(query: CandidateQuery) -> CandidateQuery:
    """A copy for one plugin, read-only all the way down: what it does to it reaches no other."""
    return dataclasses.replace(
        query, required_skills=tuple(query.required_skills), preferred_skills=tuple(query.preferred_skills),
        languages=tuple(query.languages), weights=frozen(dict(query.weights)),
    )


def _clean(candidate: object) -> RankedCandidate | None:
    """A plain RankedCandidate rebuilt from what a plugin answered, or None if it is not one."""
    # Exact types only: a subclass, or a score that is an object of its own, would run the
    # plugin's code here, outside its isolated call.
    if type(candidate) is not RankedCandidate or type(candidate.pseudonym) is not str:
        return None
    if type(candidate.score) not in (int, float) or not math.isfinite(candidate.score):
        return None
    if type(candidate.explanation) not in (tuple, list):
        return None
    explanation = tuple(e[:MAX_EXPLANATION] for e in candidate.explanation if type(e) is str)[:MAX_EXPLANATIONS]
    return RankedCandidate(candidate.pseudonym, float(candidate.score), explanation)


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

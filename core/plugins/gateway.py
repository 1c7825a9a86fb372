"""The gateway: the one way the service calls a plugin, a typed method per hook (docs/design.md).

Services never name a hook: they call a method here, and the gateway considers each plugin alone.
For an event about a seeker, a plugin is considered under each purpose it serves that could release
something the event is about: the decision point decides (``core.access.authorize_release``), the
decision is recorded, and only then is the plugin called, with a view of the allowed categories
and nothing else. Each call is isolated (``core.plugins.calls``), gets a context of its own
(``core.plugins.context``), and one plugin's failure is its own: the others are still called.

A call made with a view of a seeker is noted from its release until the plugin's code returns, so
that a purge of that seeker and purpose waits for it (``consent_withdrawn``, ``subject_erased``).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from core.access import PurposeFacts, authorize_release
from core.background import ElectedWorker
from core.categories import ACTIVITY, ALL_CATEGORIES, CONTACTS, PROFILE
from core.dossier import store as dossier_store
from core.dossier.records import plugin_values, validated_categories
from core.identity.roles import plugin_actor
from core.plugins import hookspecs, store
from core.plugins.calls import CallResult, Outcome
from core.plugins.context import CallContext, ChannelRecorder, StoreBackend
from core.plugins.host import Hook, PluginHost
from core.plugins.registry import CHANNEL_PURPOSE, RANKING_PURPOSE, Plugin, PluginRefused, Unloaded
from core.runtime import Runtime
from plugins.api import (
    CandidateQuery,
    ChannelEndpoint,
    ContactRequestDecision,
    CriterionMatch,
    EmployerSearch,
    InboundMessage,
    RankedCandidate,
    Ranking,
    SubjectEvent,
    SubjectView,
    TaxonomySource,
    frozen,
)

if TYPE_CHECKING:
    from core.delivery.service import AlertDesk

log = logging.getLogger("dossier.plugins")
EXTENSION = "dossier.plugins"
MAX_EXPLANATIONS, MAX_EXPLANATION = 10, 200
MAX_CRITERIA, MAX_CRITERION_NAME = 20, 40
# How often a purge looks again for calls in flight about its seeker.
_POLL = 0.02

# What each event is about: a plugin is called under a purpose only if that purpose releases some
# of these categories to it, and its view holds those alone (an activity recorded says nothing to a
# profile-only purpose, and brings no identity with it).
EVENT_CATEGORIES: dict[Hook, frozenset[str]] = {
    hookspecs.dossier_profile_published: PROFILE | ACTIVITY,
    hookspecs.dossier_profile_changed: PROFILE,
    hookspecs.dossier_activity_recorded: ACTIVITY,
    hookspecs.dossier_contact_recorded: CONTACTS,
    # The profile the employer saw; never the name and contact details the seeker gave that
    # employer by accepting (employer.contact is for that employer alone).
    hookspecs.dossier_contact_request_decided: PROFILE,
    hookspecs.dossier_consent_granted: ALL_CATEGORIES,
}


class PluginGateway:
    """Every call of a plugin, one method per hook; composed by create_app beside the runtime."""

    def __init__(self, rt: Runtime, host: PluginHost, alerts: AlertDesk | None = None) -> None:
        self._rt = rt
        self._host = host
        # The clock read at each use, so that a test moving the runtime's clock moves the plugins' too.
        self._backend = StoreBackend(rt.work, rt.sealer, lambda: rt.clock(), alerts)
        # The server's background worker, when one runs in this process (core.plugins.worker).
        self.worker: ElectedWorker | None = None
        # When (time.monotonic) this process last ran the plugins' periodic work (core.plugins.worker).
        self.scheduled_at: float | None = None

    # -- what runs ----------------------------------------------------------------------------

    def __bool__(self) -> bool:
        return bool(self._host)

    @property
    def plugins(self) -> Mapping[str, Plugin]:
        return self._host.plugins

    @property
    def unloaded(self) -> tuple[Unloaded, ...]:
        return self._host.unloaded

    @property
    def purposes(self) -> Mapping[str, PurposeFacts]:
        return self._host.purposes

    @property
    def manager(self) -> Any:
        """pluggy's manager, for tracing calls in tests (``add_hookcall_monitoring``)."""
        return self._host.manager

    def listens(self, event: Hook) -> bool:
        """Whether some plugin's manifest lists the event hook ``event``."""
        return bool(self._host.subscribers(event))

    def pseudonym(self, plugin: str, subject_id: str) -> str:
        return self._host.pseudonym(plugin, subject_id)

    def open_context(self, plugin: str, purpose: str | None) -> CallContext:
        """A context of ``plugin`` under ``purpose``, as a call of it gets one: for tests and
        operators' tools that read a plugin's store as the service does. ``end()`` it after use."""
        return CallContext(self._backend, self._host.plugins[plugin], purpose, self._host.legal_basis(purpose) if purpose else "")

    def record_ref(self, plugin: str, record_id: str) -> str:
        return self._host.record_ref(plugin, record_id)

    # -- registration -------------------------------------------------------------------------

    def channel_endpoints(self) -> list[tuple[Plugin, ChannelEndpoint]]:
        """Every channel endpoint the running plugins declare (checked by core.plugins.channels)."""
        found: list[tuple[Plugin, ChannelEndpoint]] = []
        for plugin in self._host.implementing(hookspecs.dossier_channel_endpoints):
            result = self._host.call(plugin, hookspecs.dossier_channel_endpoints)
            if not result.ok:
                raise PluginRefused(f"plugin {plugin.name}: dossier_channel_endpoints failed ({result.error})")
            found += [(plugin, endpoint) for endpoint in result.value or ()]
        return found

    def serve_channel(self, plugin: Plugin, endpoint: ChannelEndpoint, message: InboundMessage,
                      recorder: ChannelRecorder) -> CallResult:
        """Call a channel endpoint's handler, isolated, with a context that records through ``recorder``."""
        context = CallContext(self._backend, plugin, CHANNEL_PURPOSE, self._host.legal_basis(CHANNEL_PURPOSE), recorder)
        label = f"channel:{endpoint.path}"
        try:
            result = self._host.calls.call(plugin.name, label, lambda: endpoint.handler(message, context))
        finally:
            context.end()
        if not result.ok:
            self.incident(plugin.name, label, result.outcome.value, result.error)
        return result

    def taxonomy_sources(self) -> dict[str, tuple[str, TaxonomySource]]:
        """Every taxonomy source of the running plugins: name -> (plugin, source)."""
        found: dict[str, tuple[str, TaxonomySource]] = {}
        for plugin in self._host.implementing(hookspecs.dossier_taxonomy_sources):
            result = self._call(plugin, hookspecs.dossier_taxonomy_sources, None)
            for source in (result.value or ()) if result.ok else ():
                if isinstance(source, TaxonomySource) and source.name not in found:
                    found[source.name] = (plugin.name, source)
        return found

    def read_taxonomy(self, plugin: str, source: TaxonomySource, read: Callable[[TaxonomySource], Any]) -> CallResult:
        """Run ``read(source)`` (which iterates the plugin's generators) as the plugin's isolated call."""
        return self._host.calls.call(plugin, hookspecs.dossier_taxonomy_sources.__name__, read, source=source)

    # -- the process --------------------------------------------------------------------------

    def process_started(self) -> None:
        """Tell each plugin that the service started in this process, once per purpose it serves."""
        timeout = self._rt.settings.PLUGIN_START_TIMEOUT
        for plugin in self._host.implementing(hookspecs.dossier_process_started):
            for purpose in plugin.manifest.purposes or (None,):
                self._call(plugin, hookspecs.dossier_process_started, purpose, timeout=timeout)

    # -- events about a seeker ----------------------------------------------------------------

    def profile_published(self, subject_id: str, occurred_at: datetime, request_id: str | None = None) -> None:
        self._subject_event(hookspecs.dossier_profile_published, subject_id, occurred_at, request_id)

    def profile_changed(self, subject_id: str, occurred_at: datetime, request_id: str | None = None) -> None:
        self._subject_event(hookspecs.dossier_profile_changed, subject_id, occurred_at, request_id)

    def activity_recorded(self, subject_id: str, record_id: str, category: str, occurred_at: datetime,
                          request_id: str | None = None) -> None:
        self._subject_event(hookspecs.dossier_activity_recorded, subject_id, occurred_at, request_id, record_id=record_id,
                            record_category=category)

    def contact_recorded(self, subject_id: str, record_id: str, occurred_at: datetime, request_id: str | None = None) -> None:
        self._subject_event(hookspecs.dossier_contact_recorded, subject_id, occurred_at, request_id, record_id=record_id,
                            record_category="contact.history")

    def consent_granted(self, subject_id: str, purpose: str, occurred_at: datetime, request_id: str | None = None) -> None:
        """Under the granted purpose only."""
        self._subject_event(hookspecs.dossier_consent_granted, subject_id, occurred_at, request_id, only=purpose)

    def contact_request_decided(self, subject_id: str, decision: ContactRequestDecision, request_id: str | None = None) -> None:
        self._subject_event(hookspecs.dossier_contact_request_decided, subject_id, decision.occurred_at, request_id,
                            decision=decision)

    def employer_search_performed(self, search: EmployerSearch) -> None:
        """Tell every subscribed plugin of an employer's search (it carries nothing about a seeker)."""
        for plugin in self._host.subscribers(hookspecs.dossier_employer_search_performed):
            own = dataclasses.replace(search, criteria=frozen(dict(search.criteria)))
            self._call(plugin, hookspecs.dossier_employer_search_performed, None, search=own)

    def scheduled(self) -> int:
        """Run each plugin's periodic work once; how many plugins were called."""
        called = 0
        for plugin in self._host.implementing(hookspecs.dossier_scheduled):
            self._call(plugin, hookspecs.dossier_scheduled, None)
            called += 1
        return called

    # -- lifecycle ----------------------------------------------------------------------------

    def consent_withdrawn(self, plugin: Plugin, subject_id: str, purpose: str) -> CallResult:
        """Ask ``plugin`` to purge what it derived of the seeker under ``purpose``, once no call of
        it about that seeker and purpose is still running."""
        if not self._calls_ended(plugin.name, subject_id, purpose):
            return CallResult(Outcome.BUSY, error="call_in_flight")
        return self._call(plugin, hookspecs.dossier_consent_withdrawn, purpose,
                          pseudonym=self.pseudonym(plugin.name, subject_id), purpose=purpose)

    def subject_erased(self, plugin: Plugin, subject_id: str) -> CallResult:
        """Ask ``plugin`` to purge everything it holds of an erased seeker, once no call of it about
        them is still running."""
        if not self._calls_ended(plugin.name, subject_id, None):
            return CallResult(Outcome.BUSY, error="call_in_flight")
        return self._call(plugin, hookspecs.dossier_subject_erased, None, pseudonym=self.pseudonym(plugin.name, subject_id))

    # -- queries ------------------------------------------------------------------------------

    def candidate_ranking(self, query: CandidateQuery) -> dict[str, RankedPage]:
        """Each ranking plugin's page of candidates, as (subject id, candidate), for seekers still live.

        A plugin answers with its pseudonyms; they are mapped back through its holdings, and any that
        is not (or no longer) a seeker whose ``profile.matching`` consent is live now is dropped (and
        taken off its total). The answer is read inside the isolated call, at most ``limit`` items;
        what is not a well-formed candidate (a string pseudonym, a finite score, texts of
        explanation, criteria) is dropped.
        """
        ranked: dict[str, RankedPage] = {}
        limit = max(query.limit, 0)
        for plugin in self._host.implementing(hookspecs.dossier_candidate_ranking):
            result = self._call(plugin, hookspecs.dossier_candidate_ranking, RANKING_PURPOSE, collect=limit, query=_own_query(query))
            if not result.ok:
                continue
            answer = result.value if type(result.value) is Ranking else Ranking(tuple(result.value or ()), -1)
            candidates = [c for c in map(_clean, answer.candidates) if c is not None]
            with self._rt.engine.connect() as conn:
                subjects_of = store.live_holders(conn, plugin.name, RANKING_PURPOSE, [c.pseudonym for c in candidates],
                                                 self._rt.clock())
            kept = [(subjects_of[c.pseudonym], c) for c in candidates if c.pseudonym in subjects_of]
            total = answer.total if type(answer.total) is int and answer.total >= 0 else len(kept) + max(query.offset, 0)
            ranked[plugin.name] = RankedPage(kept, max(total - (len(candidates) - len(kept)), len(kept)))
        return ranked

    # -- incidents ----------------------------------------------------------------------------

    def incident(self, plugin: str, hook: str, kind: str, error: str | None) -> None:
        """Keep a failed call for the admins (GET /api/v1/plugins): the kind and the error's class.

        A failure to keep it is logged, never raised: the caller has already done its work.
        """
        try:
            with self._rt.transaction() as conn:
                store.record_incident(conn, plugin, hook, kind, error, self._rt.clock())
        except Exception as exc:
            log.error("plugin incident not recorded", extra={"plugin": plugin, "error": type(exc).__name__})

    # -- internals ----------------------------------------------------------------------------

    def _subject_event(self, hook: Hook, subject_id: str, occurred_at: datetime, request_id: str | None, *,
                       record_id: str | None = None, record_category: str | None = None, only: str | None = None,
                       decision: ContactRequestDecision | None = None) -> None:
        """Tell every subscribed plugin, under each of its purposes the decision point allows now."""
        about = EVENT_CATEGORIES[hook]
        for plugin in self._host.subscribers(hook):
            declared = plugin.categories & about
            for purpose in self._purposes_for(plugin, about if record_category is None else frozenset({record_category}), only):
                if self._host.calls.busy(plugin.name):
                    # Nothing is released to a plugin that cannot take it: its last call still runs.
                    self.incident(plugin.name, hook.__name__, "busy", "previous call still running")
                    break
                released = self._release(plugin, subject_id, purpose, declared, request_id)
                if released is None:
                    continue  # refused, and recorded as such
                view, call_id = released
                if decision is not None:
                    # Each plugin gets its own copy: what one does to it reaches no other.
                    self._call(plugin, hook, purpose, call_id=call_id, view=view, decision=dataclasses.replace(decision))
                else:
                    record = self._host.record_ref(plugin.name, record_id) if record_id else None
                    self._call(plugin, hook, purpose, call_id=call_id, view=view,
                               event=SubjectEvent(hook.__name__.removeprefix("dossier_"), occurred_at, record))

    def _purposes_for(self, plugin: Plugin, about: frozenset[str], only: str | None) -> list[str]:
        """The purposes of ``plugin`` (or just ``only``) that release some of ``about`` to it."""
        found = []
        for purpose in plugin.manifest.purposes:
            facts = self._host.purposes.get(purpose)
            if (only is None or purpose == only) and facts is not None and plugin.categories & facts.categories & about:
                found.append(purpose)
        return found

    def _release(self, plugin: Plugin, subject_id: str, purpose: str, declared: frozenset[str],
                 request_id: str | None) -> tuple[SubjectView, str] | None:
        """The view ``plugin`` may have of the seeker under ``purpose`` now, and the call noted for
        it; None when refused. One transaction decides and records (core.access.authorize_release),
        notes the holding (what to purge if the purpose goes) and the call in flight, and loads the
        sealed fields of the allowed categories; they are opened after the commit."""
        now = self._rt.clock()
        with self._rt.transaction() as conn:
            access = authorize_release(conn, plugin_actor(plugin.name, request_id), declared, subject_id, purpose,
                                       self._host.purposes.get(purpose), now=now)
            if access is None:
                return None
            pseudonym = self._host.pseudonym(plugin.name, subject_id)
            store.note_holding(conn, plugin.name, subject_id, purpose, pseudonym, now)
            call_id = store.begin_call(conn, plugin.name, subject_id, purpose, now, self._call_lease())
            sealed = dossier_store.load_sealed(conn, subject_id, access.decision.categories)
        try:
            opened = dossier_store.open_sealed(self._rt.sealer.cipher(subject_id, access.key), sealed)
            ref = functools.partial(self._host.record_ref, plugin.name)
            categories = access.decision.categories
            return SubjectView(pseudonym, purpose, plugin_values(opened, categories, ref),
                               validated_categories(opened, categories)), call_id
        except BaseException:
            self._end_call(call_id)
            raise

    def _call(self, plugin: Plugin, hook: Hook, under: str | None, *, call_id: str | None = None, collect: int | None = None,
              timeout: float | None = None, **arguments: Any) -> CallResult:
        """Call ``plugin``'s ``hook`` under the purpose ``under`` with a fresh context; afterwards
        nothing it was given works, and the call noted at its release ends when its code returns."""
        context = CallContext(self._backend, plugin, under, self._host.legal_basis(under) if under else "")
        finished = functools.partial(self._end_call, call_id) if call_id else None
        try:
            result = self._host.call(plugin, hook, collect, finished, timeout, context=context, **arguments)
        finally:
            context.end()
            for value in arguments.values():
                if isinstance(value, SubjectView):
                    value._revoke()
        if not result.ok:
            self.incident(plugin.name, hook.__name__, result.outcome.value, result.error)
        return result

    def _call_lease(self) -> timedelta:
        """How long a call in flight holds up purges if its process dies before it ends."""
        return timedelta(seconds=self._rt.settings.PLUGIN_TIMEOUT * 4 + 30)

    def _end_call(self, call_id: str) -> None:
        with self._rt.transaction() as conn:
            store.end_call(conn, call_id)

    def _calls_ended(self, plugin: str, subject_id: str, purpose: str | None) -> bool:
        """Wait, up to the plugins' timeout, until no call of ``plugin`` about the seeker (under
        ``purpose``) that was released a view is still running, in any process."""
        deadline = time.monotonic() + self._rt.settings.PLUGIN_TIMEOUT
        while True:
            with self._rt.engine.connect() as conn:
                running = store.calls_in_flight(conn, plugin, subject_id, purpose, self._rt.clock())
            if not running:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL)


@dataclasses.dataclass(frozen=True)
class RankedPage:
    """One ranking plugin's answer: its page of (subject id, candidate), and how many match in all."""

    candidates: list[tuple[str, RankedCandidate]]
    total: int


def _own_query(query: CandidateQuery) -> CandidateQuery:
    """A copy for one plugin, read-only all the way down: what it does to it reaches no other."""
    return dataclasses.replace(
        query, required_skills=tuple(query.required_skills), preferred_skills=tuple(query.preferred_skills),
        languages=tuple(dataclasses.replace(need) for need in query.languages), weights=frozen(dict(query.weights)),
        contract_types=tuple(query.contract_types), working_time=tuple(query.working_time), licences=tuple(query.licences),
        related_occupations=frozen(dict(query.related_occupations)), skill_relations=frozen(dict(query.skill_relations)),
        labels=frozen({code: dict(names) for code, names in query.labels.items()}),
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
    if type(candidate.criteria) not in (tuple, list):
        return None
    criteria = tuple(c for c in map(_clean_criterion, candidate.criteria) if c is not None)[:MAX_CRITERIA]
    return RankedCandidate(candidate.pseudonym, float(candidate.score), explanation, criteria)


def _clean_criterion(item: object) -> CriterionMatch | None:
    """A plain CriterionMatch rebuilt from a plugin's, or None if any member has the wrong type."""
    if type(item) is not CriterionMatch:
        return None
    numbers = (item.value, item.weight, item.points)
    if not all(type(n) in (int, float) and math.isfinite(n) for n in numbers):
        return None
    if not all(type(t) is str for t in (item.criterion, item.fr, item.en)) or type(item.matched) is not bool:
        return None
    if item.validated is not None and type(item.validated) is not bool:
        return None
    return CriterionMatch(item.criterion[:MAX_CRITERION_NAME], item.matched, float(item.value), float(item.weight),
                          float(item.points), item.validated, item.fr[:MAX_EXPLANATION], item.en[:MAX_EXPLANATION])


def plugin_gateway(app: Flask | None = None) -> PluginGateway:
    """The plugin gateway of ``app`` (default: the current app)."""
    gateway: PluginGateway = (app or current_app).extensions[EXTENSION]
    return gateway

"""The hooks of the matching plugin.

Under ``profile.matching`` (the consent a seeker gives by publishing), it keeps one document per
published profile in its store (``plugins.matching.document``) whenever the profile is published,
changed or validated, or the consent given again. Every process builds its index from the store's
change feed when it starts, and catches up from the feed at the start of every ranking: a search
sees every change committed before it began, whichever process wrote it, and never a seeker whose
consent is gone (the service deletes their entry in the withdrawal's own transaction).
"""

from __future__ import annotations

import threading

from plugins.api import (
    CandidateQuery,
    Manifest,
    PluginContext,
    PluginSetting,
    Purged,
    Ranking,
    StoredData,
    SubjectEvent,
    SubjectView,
    hookimpl,
)
from plugins.matching import scoring
from plugins.matching.document import document_of
from plugins.matching.index import ProfileIndex

NAME = "matching"
VERSION = "1.0"
PURPOSE = "profile.matching"
STORE = "profile"
EVENTS = ("dossier_profile_published", "dossier_profile_changed", "dossier_consent_granted")
SETTINGS = (
    PluginSetting("declared_factor", float, 0.8,
                  "what a field the seeker declared counts against one an advisor validated (0 to 1)", minimum=0.0, maximum=1.0),
)


class MatchingPlugin:
    """One per app: its index, the feed cursor it is current to, and the lock around both."""

    def __init__(self) -> None:
        self.index = ProfileIndex()
        self.cursor = 0
        self._lock = threading.Lock()

    @hookimpl
    def dossier_manifest(self) -> Manifest:
        return Manifest(
            name=NAME, version=VERSION, purposes=(PURPOSE,), categories=("profile",), events=EVENTS,
            stores=(StoredData(STORE, "the published profile's codes and numbers, as the index reads them"),),
            description="« Je cherche un candidat » : recherche de profils publiés / employers' search of published profiles",
            settings=SETTINGS,
        )

    # -- keeping the store current --------------------------------------------------------------

    @hookimpl
    def dossier_profile_published(self, view: SubjectView, context: PluginContext) -> None:
        self._keep(view, context)

    @hookimpl
    def dossier_profile_changed(self, view: SubjectView, context: PluginContext) -> None:
        self._keep(view, context)

    @hookimpl
    def dossier_consent_granted(self, view: SubjectView, event: SubjectEvent, context: PluginContext) -> None:
        self._keep(view, context)

    def _keep(self, view: SubjectView, context: PluginContext) -> None:
        context.store.put(view.pseudonym, STORE, document_of(view, context.now().date()))

    @hookimpl
    def dossier_consent_withdrawn(self, pseudonym: str, context: PluginContext) -> Purged:
        # The store entry is already gone; this process's copy goes now, the others' at their next catch-up.
        with self._lock:
            return Purged(int(self.index.remove(pseudonym)))

    @hookimpl
    def dossier_subject_erased(self, pseudonym: str, context: PluginContext) -> Purged:
        with self._lock:
            return Purged(int(self.index.remove(pseudonym)))

    # -- the index ------------------------------------------------------------------------------

    @hookimpl
    def dossier_process_started(self, context: PluginContext) -> None:
        with self._lock:
            self._catch_up(context)
            self.index.compact()

    @hookimpl
    def dossier_candidate_ranking(self, query: CandidateQuery, context: PluginContext) -> Ranking:
        with self._lock:
            self._catch_up(context)
            return scoring.search(self.index, query, float(context.settings["declared_factor"]))

    def _catch_up(self, context: PluginContext) -> None:
        changes = context.store.changes(STORE, since=self.cursor)
        self.index.apply(changes.changed, changes.removed)
        self.cursor = changes.cursor

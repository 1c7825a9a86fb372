"""Every hook a plugin may implement (pluggy, project ``dossier``, every name prefixed ``dossier_``).

Registration hooks are plural nouns returning dataclasses of ``plugins.api`` (the manifest, one
per plugin, is the exception); events are past-tense and return nothing; lifecycle hooks return a
purge confirmation; queries are noun phrases returning results. The gateway calls each plugin's
implementation alone, with arguments built for that plugin, so no hook here takes the app, a
database session, a key or a raw dossier.

Each docstring ends with a "Consent:" paragraph: the purpose a call is made under and what its
view holds. docs/plugins.md documents every hook, and a meta-test checks it.
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from plugins.api import (
    PROJECT,
    CandidateQuery,
    ChannelEndpoint,
    ContactRequestDecision,
    EmployerSearch,
    Manifest,
    PluginContext,
    Purged,
    PurposeDeclaration,
    RankedCandidate,
    SubjectEvent,
    SubjectView,
    TaxonomySource,
)

hookspec = pluggy.HookspecMarker(PROJECT)


# -- registration ------------------------------------------------------------------------------


@hookspec
def dossier_manifest() -> Manifest:  # type: ignore[empty-body]
    """The plugin's manifest: name, version, purposes, categories, events, stores.

    Every plugin implements it; a plugin without one is refused at start-up.

    Consent: none; it is called once at start-up and receives nothing.
    """


@hookspec
def dossier_purposes() -> Iterable[PurposeDeclaration]:  # type: ignore[empty-body]
    """Purposes the plugin brings to the catalogue, with their notices (loaded at start-up).

    Consent: none; a consent purpose brought here is granted and withdrawn by seekers like any other.
    """


@hookspec
def dossier_channel_endpoints() -> Iterable[ChannelEndpoint]:  # type: ignore[empty-body]
    """Inbound endpoints of a channel integration, served under ``/api/v1/channels/<plugin>/``.

    Consent: none at registration; each handler records through its ``ChannelContext``, which
    decides every write under ``dossier.public_task`` and records it in the audit log.
    """


@hookspec
def dossier_taxonomy_sources() -> Iterable[TaxonomySource]:  # type: ignore[empty-body]
    """Taxonomies the plugin provides, imported with ``dossier taxonomy import --source NAME``.

    Consent: none; a taxonomy holds codes and labels, nothing about a person.
    """


# -- events ------------------------------------------------------------------------------------


@hookspec
def dossier_profile_published(view: SubjectView, event: SubjectEvent, context: PluginContext) -> None:
    """The seeker published the profile (granted ``profile.matching`` or ``activity.advisor_access``).

    Consent: called under each purpose of the manifest that the release decision allows now; the
    view holds the manifest's categories that the purpose covers, nothing else.
    """


@hookspec
def dossier_profile_changed(view: SubjectView, event: SubjectEvent, context: PluginContext) -> None:
    """The seeker changed "Mon profil", or an advisor validated one of its fields.

    Consent: as ``dossier_profile_published``: one call per allowed purpose, the view holding the
    manifest's categories that purpose covers; an unpublished profile reaches no consent purpose.
    """


@hookspec
def dossier_activity_recorded(view: SubjectView, event: SubjectEvent, context: PluginContext) -> None:
    """A job-search activity was recorded; ``event.record`` is its ref in ``view``.

    Consent: called under each allowed purpose of the manifest; activity categories are released
    only under a purpose that covers them and whose consent (``activity.advisor_access``) is live.
    """


@hookspec
def dossier_contact_recorded(view: SubjectView, event: SubjectEvent, context: PluginContext) -> None:
    """A contact with the seeker was recorded, over any channel; ``event.record`` is its ref.

    Consent: called under each allowed purpose; ``contact.history`` rests on ``dossier.public_task``,
    so a plugin serving that purpose receives it without a consent (enabling it is the controller's act).
    """


@hookspec
def dossier_consent_granted(view: SubjectView, event: SubjectEvent, context: PluginContext) -> None:
    """The seeker granted (or gave again) a consent purpose the plugin serves: what it may now see
    of them, from before too (the moment to index a seeker's backlog).

    Consent: called under the granted purpose only, once its consent is live; the view holds the
    manifest's categories that the purpose covers.
    """


@hookspec
def dossier_employer_search_performed(search: EmployerSearch, context: PluginContext) -> None:
    """An employer searched published profiles (criteria and the number of candidates found).

    Consent: no view; the search names an employer and carries nothing about any seeker, so it
    reaches every plugin whose manifest lists this event.
    """


@hookspec
def dossier_contact_request_decided(view: SubjectView, decision: ContactRequestDecision, context: PluginContext) -> None:
    """The seeker accepted or refused an employer's contact request.

    Consent: called under each allowed purpose of the manifest; the view never holds the name or
    contact details given to the employer (``employer.contact`` is for that employer alone).
    """


# -- lifecycle ---------------------------------------------------------------------------------


@hookspec
def dossier_consent_withdrawn(pseudonym: str, purpose: str, context: PluginContext) -> Purged:  # type: ignore[empty-body]
    """The seeker's consent to ``purpose`` was withdrawn or lapsed: delete what was derived under it.

    Return ``Purged`` to confirm; anything else (or an error, or a timeout) is retried by the
    background worker and reported to admins until it is confirmed. Entries of the plugin's store
    under that purpose are already gone when this is called.

    Consent: no view (nothing may be read any more); called for each plugin that held data of that
    seeker under that purpose.
    """


@hookspec
def dossier_subject_erased(pseudonym: str, context: PluginContext) -> Purged:  # type: ignore[empty-body]
    """The seeker was erased: delete everything held about them, then return ``Purged``.

    Consent: no view (the seeker's key is destroyed) and no purpose, so ``context.store`` cannot be
    used: the service has already deleted the plugin's store entries about them. Called for each
    plugin that held any of their data, and retried like ``dossier_consent_withdrawn`` until confirmed.
    """


# -- the process -------------------------------------------------------------------------------


@hookspec
def dossier_process_started(context: PluginContext) -> None:
    """The service started in this process (a web worker of ``dossier serve``): the moment to build
    in-memory state from the plugin's store (``context.store.changes(name)`` gives every entry and
    the cursor to catch up from later).

    Consent: called once per purpose of the manifest (``context.purpose``), or once under no
    purpose for a plugin that serves none; no view: the store yields only what is live under that
    purpose.
    """


@hookspec
def dossier_scheduled(context: PluginContext) -> None:
    """Periodic work (a digest to send): called by the background work about once every
    ``PLUGIN_SCHEDULE_INTERVAL`` seconds, by each worker that runs it, so possibly twice at once;
    what it asks of the service must carry keys that make a second time change nothing
    (``Alert.key``).

    Consent: no purpose and no view; ``context.store`` cannot be used, ``context.shared`` can.
    """


# -- queries -----------------------------------------------------------------------------------


@hookspec
def dossier_candidate_ranking(query: CandidateQuery, context: PluginContext) -> Iterable[RankedCandidate]:  # type: ignore[empty-body]
    """Rank candidates for an employer's search, from what the plugin keeps in its store.

    Consent: called under ``profile.matching``; the store yields only seekers whose consent to it
    is live, and every candidate returned is checked again before an employer sees anything.
    """


# The hooks by kind, as the registry checks manifests against them (a meta-test checks that
# every specification above is in exactly one).
REGISTRATION_HOOKS = ("dossier_manifest", "dossier_purposes", "dossier_channel_endpoints", "dossier_taxonomy_sources")
SUBJECT_EVENT_HOOKS = ("dossier_profile_published", "dossier_profile_changed", "dossier_activity_recorded",
                       "dossier_contact_recorded", "dossier_contact_request_decided", "dossier_consent_granted")
EVENT_HOOKS = (*SUBJECT_EVENT_HOOKS, "dossier_employer_search_performed")
LIFECYCLE_HOOKS = ("dossier_consent_withdrawn", "dossier_subject_erased")
PROCESS_HOOKS = ("dossier_process_started", "dossier_scheduled")
QUERY_HOOKS = ("dossier_candidate_ranking",)

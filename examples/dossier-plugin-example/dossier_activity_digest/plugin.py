"""The hooks of the activity_digest plugin (its entry point: ``dossier.plugins`` -> this module).

What it does, under the consent purpose it brings (``activity_digest.monthly``):

- when the seeker consents, and whenever an activity is recorded, it counts the seeker's
  applications, trainings and interviews by month and keeps that digest in its per-seeker store;
- when the consent is withdrawn (or lapses), or the seeker is erased, it confirms the purge.

NOTE: a plugin imports ``plugins.api`` and nothing else of the service (docs/plugins.md, "The
import rule"); the tests check it. Everything it learns of a seeker comes through the view it is
given, under the seeker's pseudonym for this plugin.
"""

from __future__ import annotations

from collections.abc import Iterable

from plugins.api import (
    Manifest,
    Notice,
    PluginContext,
    Purged,
    PurposeDeclaration,
    StoredData,
    SubjectEvent,
    SubjectView,
    hookimpl,
)

from dossier_activity_digest import __version__
from dossier_activity_digest.digest import KINDS, monthly_counts

NAME = "activity_digest"
PURPOSE = f"{NAME}.monthly"
CATEGORIES: tuple[str, ...] = tuple(KINDS)
STORE = "monthly_counts"
EVENTS = ("dossier_activity_recorded", "dossier_consent_granted")


# -- registration ------------------------------------------------------------------------------


@hookimpl
def dossier_manifest() -> Manifest:
    return Manifest(
        name=NAME,
        version=__version__,
        purposes=(PURPOSE,),
        categories=CATEGORIES,
        events=EVENTS,
        stores=(StoredData(STORE, "activities per month and kind, by seeker"),),
        description="Synthèse mensuelle des démarches / monthly digest of job-search activities",
    )


@hookimpl
def dossier_purposes() -> Iterable[PurposeDeclaration]:
    return [
        PurposeDeclaration(
            name=PURPOSE,
            legal_basis="consent",
            categories=CATEGORIES,
            recipients=("activity_digest plugin",),
            retention_days=365,
            notices=(
                Notice(
                    fr="Le plugin « synthèse mensuelle des démarches » compte, mois par mois, les candidatures, formations "
                       "et entretiens enregistrés dans votre dossier. Il ne garde que ces nombres, sous un pseudonyme, "
                       "jamais le contenu de vos démarches. Vous pouvez retirer ce consentement à tout moment, sans "
                       "conséquence sur votre accompagnement; les nombres gardés sont alors effacés.",
                    en="The \"monthly activity digest\" plugin counts, month by month, the applications, trainings and "
                       "interviews recorded in your dossier. It keeps only these numbers, under a pseudonym, never what "
                       "your activities say. You may withdraw this consent at any time, with no consequence for the "
                       "support you receive; the numbers kept are then erased.",
                ),
            ),
        )
    ]


# -- events ------------------------------------------------------------------------------------


@hookimpl
def dossier_activity_recorded(view: SubjectView, event: SubjectEvent, context: PluginContext) -> None:
    _refresh(view, context)


@hookimpl
def dossier_consent_granted(view: SubjectView, event: SubjectEvent, context: PluginContext) -> None:
    # The seeker has just consented to our purpose: the view holds every activity so far.
    _refresh(view, context)


def _refresh(view: SubjectView, context: PluginContext) -> None:
    # The view is valid only during this call: what is kept is the counts, not the view.
    digest = monthly_counts(view)
    context.store.put(view.pseudonym, STORE, {"months": digest, "updated_at": context.now().isoformat()})
    # Counts only: a log line must never carry what a seeker's dossier says.
    context.log.info("digest updated", extra={"plugin_months": len(digest)})


# -- lifecycle ---------------------------------------------------------------------------------


@hookimpl
def dossier_consent_withdrawn(pseudonym: str, purpose: str, context: PluginContext) -> Purged:
    # The service has already deleted this seeker's entries of our store under ``purpose``, and
    # this plugin keeps nothing anywhere else: there is nothing more to delete. A plugin with a
    # cache or an outside index would delete the seeker's part of it here, then count it.
    return Purged(items=0)


@hookimpl
def dossier_subject_erased(pseudonym: str, context: PluginContext) -> Purged:
    # As above: every entry of the store about this seeker is already gone (and this call is made
    # under no purpose, so ``context.store`` cannot be used).
    return Purged(items=0)

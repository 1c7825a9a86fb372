"""The default purpose catalogue (docs/design.md) and its loading.

A public body can rarely rest on consent for its core task (EDPB guidelines 05/2020, 3.1.1): the
dossier is kept under the public task, and consent covers only the optional purposes, each
separately, each refusable without detriment. Notice texts are versioned; a published version
never changes, a new text is a new version, and a material change asks the seeker again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum

from consent.purposes import Purpose
from core.categories import ACTIVITY, CONTACTS, IDENTITY, PROFILE


class LegalBasis(StrEnum):
    CONSENT = "consent"
    LEGAL_OBLIGATION = "legal_obligation"
    PUBLIC_TASK = "public_task"


@dataclass(frozen=True)
class Notice:
    version: int
    fr: str
    en: str
    material: bool = False

    def sha256(self, purpose: str) -> str:
        """The hash a receipt names, over the exact texts of this version."""
        canonical = json.dumps({"purpose": purpose, "version": self.version, "fr": self.fr, "en": self.en},
                               ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class PurposeDefinition:
    name: str
    legal_basis: LegalBasis
    categories: tuple[str, ...]
    recipients: tuple[str, ...]
    retention_days: int
    notices: tuple[Notice, ...] = field(default=())
    per_request: bool = False


# Matching sees the profile but no location finer than the postal code: the profile holds no
# finer location, and identity.address is not in the purpose.
DEFAULT_PURPOSES: tuple[PurposeDefinition, ...] = (
    PurposeDefinition(
        Purpose.DOSSIER_PUBLIC_TASK, LegalBasis.PUBLIC_TASK, tuple(sorted(IDENTITY | CONTACTS)), ("assigned advisor",), 3650,
        (Notice(1,
                "Votre dossier (identité et historique des contacts) est tenu par le service public de l'emploi dans le cadre "
                "de sa mission de service public. Seul le conseiller qui vous suit y a accès.",
                "Your dossier (identity and contact history) is kept by the public employment service as part of its public "
                "task. Only the advisor assigned to you has access to it."),),
    ),
    PurposeDefinition(
        Purpose.SUBJECT_RIGHTS, LegalBasis.LEGAL_OBLIGATION, tuple(sorted(IDENTITY | PROFILE | ACTIVITY | CONTACTS)), ("the seeker",), 3650,
        (Notice(1,
                "Vous pouvez consulter, corriger, exporter et faire effacer vos données (RGPD, articles 15 à 20).",
                "You may access, correct, export and erase your data (GDPR articles 15 to 20)."),),
    ),
    PurposeDefinition(
        Purpose.PROFILE_MATCHING, LegalBasis.CONSENT, tuple(sorted(PROFILE)), ("employers' matching, pseudonymous",), 365,
        (Notice(1,
                "En publiant votre profil, vous permettez aux employeurs de le trouver lors de leurs recherches, sans votre nom "
                "ni vos coordonnées. Un employeur intéressé vous envoie une demande de contact que vous acceptez ou refusez. "
                "Vous pouvez retirer ce consentement à tout moment, sans conséquence sur votre accompagnement.",
                "By publishing your profile, you let employers find it in their searches, without your name or contact "
                "details. An interested employer sends you a contact request that you accept or refuse. You may withdraw "
                "this consent at any time, with no consequence for the support you receive."),),
    ),
    PurposeDefinition(
        Purpose.ACTIVITY_ADVISOR_ACCESS, LegalBasis.CONSENT, tuple(sorted(ACTIVITY)), ("assigned advisor", "activity plugin"), 365,
        (Notice(1,
                "Vous permettez au conseiller qui vous suit de voir vos démarches de recherche d'emploi (candidatures, "
                "formations, entretiens). Vous pouvez retirer ce consentement à tout moment, sans conséquence sur votre "
                "accompagnement.",
                "You let the advisor assigned to you see your job-search activities (applications, trainings, interviews). "
                "You may withdraw this consent at any time, with no consequence for the support you receive."),),
    ),
    PurposeDefinition(
        Purpose.EMPLOYER_CONTACT, LegalBasis.CONSENT, ("identity.contact", "identity.name"), ("one employer, after you accept",), 180,
        (Notice(1,
                "En acceptant une demande de contact, vous transmettez votre nom et vos coordonnées à cet employeur seulement.",
                "By accepting a contact request, you give your name and contact details to that employer only."),),
        per_request=True,
    ),
    PurposeDefinition(
        Purpose.STATISTICS, LegalBasis.PUBLIC_TASK, (), ("auditors", "management"), 3650,
        (Notice(1,
                "Des statistiques agrégées sont produites; les cellules trop petites pour protéger l'anonymat sont supprimées.",
                "Aggregate statistics are produced; cells too small to protect anonymity are suppressed."),),
    ),
)

# Publishing the profile grants these together (the publication notice says so).
PUBLICATION_PURPOSES: tuple[str, ...] = (Purpose.PROFILE_MATCHING, Purpose.ACTIVITY_ADVISOR_ACCESS)

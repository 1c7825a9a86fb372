"""Purpose names (docs/design.md). Every decision and audit entry names one."""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    # The dossier itself, kept under the public-task basis: identity and contact history.
    DOSSIER_PUBLIC_TASK = "dossier.public_task"
    # The seeker's own rights over their data (GDPR articles 15 to 20): access, rectification,
    # portability, erasure. A legal obligation of the controller, not a consent.
    SUBJECT_RIGHTS = "subject.rights"
    PROFILE_MATCHING = "profile.matching"
    ACTIVITY_ADVISOR_ACCESS = "activity.advisor_access"
    EMPLOYER_CONTACT = "employer.contact"
    STATISTICS = "statistics"

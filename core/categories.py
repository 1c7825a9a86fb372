"""Data categories (docs/design.md): every stored field has exactly one.

Dotted names; a prefix covers what is below it (``identity`` covers ``identity.contact``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from enum import StrEnum


class Category(StrEnum):
    IDENTITY_NAME = "identity.name"
    IDENTITY_CONTACT = "identity.contact"
    IDENTITY_NATIONAL_ID = "identity.national_id"
    IDENTITY_BIRTH_DATE = "identity.birth_date"
    IDENTITY_ADDRESS = "identity.address"
    PROFILE_OCCUPATIONS = "profile.occupations"
    PROFILE_SKILLS = "profile.skills"
    PROFILE_LANGUAGES = "profile.languages"
    PROFILE_EDUCATION = "profile.education"
    PROFILE_EXPERIENCE = "profile.experience"
    PROFILE_LOCATION = "profile.location"
    PROFILE_AVAILABILITY = "profile.availability"
    PROFILE_LICENCES = "profile.licences"
    PROFILE_CONTRACT_PREFERENCES = "profile.contract_preferences"
    ACTIVITY_APPLICATIONS = "activity.applications"
    ACTIVITY_TRAININGS = "activity.trainings"
    ACTIVITY_INTERVIEWS = "activity.interviews"
    ACTIVITY_OTHER = "activity.other"
    CONTACT_HISTORY = "contact.history"


ALL_CATEGORIES: frozenset[str] = frozenset(Category)


def under(*prefixes: str) -> frozenset[str]:
    """Every category equal to or below one of ``prefixes``."""
    return frozenset(c for c in ALL_CATEGORIES if any(c == p or c.startswith(p + ".") for p in prefixes))


_SECTION_OF_TOP = {"identity": "identity", "profile": "profile", "activity": "activities", "contact": "contacts"}


@functools.cache
def section_of(category: str) -> str:
    """The dossier section a category belongs to: identity, profile, activities or contacts."""
    return _SECTION_OF_TOP[category.split(".", 1)[0]]


def sections(categories: Iterable[str]) -> frozenset[str]:
    return frozenset(section_of(c) for c in categories)


IDENTITY = under("identity")
PROFILE = under("profile")
ACTIVITY = under("activity")
CONTACTS = under("contact")

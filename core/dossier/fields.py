"""Which data category every dossier field belongs to (DESIGN.md section 4)."""

from __future__ import annotations

from enum import StrEnum

from core.categories import Category


class RecordKind(StrEnum):
    IDENTITY = "identity"
    PROFILE = "profile"
    CONTACT = "contact"
    ACTIVITY = "activity"


IDENTITY_FIELDS: dict[str, Category] = {
    "name": Category.IDENTITY_NAME,
    "email": Category.IDENTITY_CONTACT,
    "phone": Category.IDENTITY_CONTACT,
    "national_id": Category.IDENTITY_NATIONAL_ID,
    "birth_date": Category.IDENTITY_BIRTH_DATE,
    "address": Category.IDENTITY_ADDRESS,
}

PROFILE_FIELDS: dict[str, Category] = {
    "occupations": Category.PROFILE_OCCUPATIONS,
    "skills": Category.PROFILE_SKILLS,
    "languages": Category.PROFILE_LANGUAGES,
    "education": Category.PROFILE_EDUCATION,
    "experience": Category.PROFILE_EXPERIENCE,
    "postal_code": Category.PROFILE_LOCATION,
    "mobility_radius_km": Category.PROFILE_LOCATION,
    "available_from": Category.PROFILE_AVAILABILITY,
    "contract_types": Category.PROFILE_CONTRACT_PREFERENCES,
    "working_time": Category.PROFILE_CONTRACT_PREFERENCES,
    "licences": Category.PROFILE_LICENCES,
}

CONTACT_FIELDS: tuple[str, ...] = ("channel", "occurred_at", "summary")
ACTIVITY_FIELDS: tuple[str, ...] = ("kind", "occurred_at", "description")

ACTIVITY_CATEGORY: dict[str, Category] = {
    "application": Category.ACTIVITY_APPLICATIONS,
    "training": Category.ACTIVITY_TRAININGS,
    "interview": Category.ACTIVITY_INTERVIEWS,
    "other": Category.ACTIVITY_OTHER,
}

CONTACT_CHANNELS: tuple[str, ...] = (
    "in_person", "phone", "call_centre", "email", "web", "job_offer_response", "company_visit",
)

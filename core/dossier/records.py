"""The records of a dossier: their fields, the data category of each, and their two shapes.

This module alone says which fields a record has and which category each belongs to
(docs/design.md: every stored field has exactly one). From the opened records it builds both
what a person reads (typed records: the dossier's sections, dumped by the API's schemas) and
what a plugin receives (``plugin_values``: JSON values by category, docs/plugins.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from core.categories import Category, section_of
from core.models import as_utc, iso_utc


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
ACTIVITY_FIELDS: tuple[str, ...] = ("kind", "occurred_at", "description", "organisation", "occupation", "channel", "outcome")
# How a step was taken, and what came of it (set when known, and changed later by the seeker).
ACTIVITY_CHANNELS: tuple[str, ...] = ("online", "email", "post", "in_person", "phone", "job_board", "network", "other")
ACTIVITY_OUTCOMES: tuple[str, ...] = ("pending", "no_answer", "interview", "refused", "hired", "completed", "abandoned")

ACTIVITY_CATEGORY: dict[str, Category] = {
    "application": Category.ACTIVITY_APPLICATIONS,
    "training": Category.ACTIVITY_TRAININGS,
    "interview": Category.ACTIVITY_INTERVIEWS,
    "other": Category.ACTIVITY_OTHER,
}

CONTACT_CHANNELS: tuple[str, ...] = (
    "in_person", "phone", "call_centre", "email", "web", "job_offer_response", "company_visit",
)
SECTION_ORDER = ("identity", "profile", "contacts", "activities")


@dataclass(slots=True)
class OpenedRecord:
    """A record as the store opened it: its fields' stored JSON values, by field name."""

    id: str
    kind: str
    created_at: datetime
    recorded_by: str | None
    values: dict[str, Any]


# -- what a person reads ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Address:
    street: str
    postal_code: str
    city: str
    country: str = "BE"


@dataclass(frozen=True, slots=True)
class Identity:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    national_id: str | None = None
    birth_date: date | None = None
    address: Address | None = None


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who stands behind a profile field: the seeker (declared) or an advisor (validated)."""

    source: str
    declared_at: datetime | None = None
    validated_by: str | None = None
    validated_at: datetime | None = None
    evidence: str | None = None


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    level: str


@dataclass(frozen=True, slots=True)
class Education:
    title: str
    institution: str | None = None
    level: str | None = None
    year: int | None = None


@dataclass(frozen=True, slots=True)
class Experience:
    title: str
    occupation: str | None = None
    employer: str | None = None
    start: date | None = None
    end: date | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """"Mon profil": a field the seeker has not filled is None; each filled one has its provenance."""

    occupations: list[str] | None = None
    skills: list[str] | None = None
    languages: list[Language] | None = None
    education: list[Education] | None = None
    experience: list[Experience] | None = None
    postal_code: str | None = None
    mobility_radius_km: int | None = None
    available_from: date | None = None
    contract_types: list[str] | None = None
    working_time: list[str] | None = None
    licences: list[str] | None = None
    provenance: dict[str, Provenance] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    channel: str
    occurred_at: datetime
    summary: str
    recorded_by: str | None
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class Activity:
    id: str
    kind: str
    occurred_at: datetime
    description: str
    recorded_at: datetime
    # The employer or organisation, the occupation (a taxonomy code), how, and what came of it.
    organisation: str | None = None
    occupation: str | None = None
    channel: str | None = None
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class WithheldSection:
    """A section the reader may not see at all, and why (with the consent that would allow it)."""

    section: str
    reason: str
    consent: str | None = None


@dataclass(frozen=True, slots=True)
class Sections:
    """The sections of a dossier a reader may see; a section they may not see is None."""

    identity: Identity | None = None
    profile: Profile | None = None
    contacts: list[Contact] | None = None
    activities: list[Activity] | None = None


def identity_of(values: Mapping[str, Any]) -> Identity:
    address = values.get("address")
    return Identity(
        name=values.get("name"), email=values.get("email"), phone=values.get("phone"),
        national_id=values.get("national_id"), birth_date=_date(values.get("birth_date")),
        address=Address(**address) if address else None,
    )


def profile_of(stored: Mapping[str, Any]) -> Profile:
    """A profile from its stored fields (each ``{"value", "provenance"}``)."""
    value = {name: entry["value"] for name, entry in stored.items() if entry is not None}
    return Profile(
        occupations=value.get("occupations"), skills=value.get("skills"),
        languages=_each(Language, value.get("languages")), education=_each(Education, value.get("education")),
        experience=[Experience(**{**e, "start": _date(e.get("start")), "end": _date(e.get("end"))})
                    for e in value["experience"]] if value.get("experience") is not None else None,
        postal_code=value.get("postal_code"), mobility_radius_km=value.get("mobility_radius_km"),
        available_from=_date(value.get("available_from")), contract_types=value.get("contract_types"),
        working_time=value.get("working_time"), licences=value.get("licences"),
        provenance={name: provenance_of(entry["provenance"]) for name, entry in stored.items() if entry is not None},
    )


def provenance_of(stored: Mapping[str, Any]) -> Provenance:
    return Provenance(
        source=stored["source"], declared_at=_datetime(stored.get("declared_at")), validated_by=stored.get("validated_by"),
        validated_at=_datetime(stored.get("validated_at")), evidence=stored.get("evidence"),
    )


def contact_of(record: OpenedRecord) -> Contact:
    v = record.values
    return Contact(record.id, v["channel"], datetime.fromisoformat(v["occurred_at"]), v["summary"], record.recorded_by,
                   as_utc(record.created_at))


def activity_of(record: OpenedRecord) -> Activity:
    v = record.values
    return Activity(record.id, v["kind"], datetime.fromisoformat(v["occurred_at"]), v["description"], as_utc(record.created_at),
                    v.get("organisation"), v.get("occupation"), v.get("channel"), v.get("outcome"))


def sections(opened: Iterable[OpenedRecord], categories: Iterable[str]) -> Sections:
    """The sections that ``categories`` reach, built from the opened records."""
    records = list(opened)
    visible = {section_of(c) for c in categories}
    return Sections(
        identity=identity_of(_values(records, RecordKind.IDENTITY)) if "identity" in visible else None,
        profile=profile_of(_values(records, RecordKind.PROFILE)) if "profile" in visible else None,
        contacts=[contact_of(r) for r in records if r.kind == RecordKind.CONTACT] if "contacts" in visible else None,
        activities=[activity_of(r) for r in records if r.kind == RecordKind.ACTIVITY] if "activities" in visible else None,
    )


def _values(records: list[OpenedRecord], kind: RecordKind) -> dict[str, Any]:
    return next((r.values for r in records if r.kind == kind), {})


def _each(kind: Any, items: list[dict[str, Any]] | None) -> Any:
    return [kind(**item) for item in items] if items is not None else None


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _datetime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# -- what a plugin receives ---------------------------------------------------------------------


def _fields_by_category(fields: Mapping[str, Category]) -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for name, category in fields.items():
        grouped[str(category)].append(name)
    return {category: tuple(names) for category, names in grouped.items()}


_IDENTITY = _fields_by_category(IDENTITY_FIELDS)
_PROFILE = _fields_by_category(PROFILE_FIELDS)
_RECORD_FIELDS = {RecordKind.ACTIVITY: ACTIVITY_FIELDS, RecordKind.CONTACT: CONTACT_FIELDS}


def plugin_values(opened: Iterable[OpenedRecord], categories: Iterable[str], ref: Callable[[str], str]) -> dict[str, Any]:
    """category -> value, as docs/plugins.md lists them: one field's stored value, or a mapping of a
    category's fields, or a tuple of records (activities, contacts) each with the plugin's ``ref``.
    Profile values come without their provenance (who declared or validated them)."""
    records = list(opened)
    identity = _values(records, RecordKind.IDENTITY)
    profile = {name: stored["value"] for name, stored in _values(records, RecordKind.PROFILE).items()}
    data: dict[str, Any] = {}
    for category in sorted(categories):
        if category in _IDENTITY:
            data[category] = _field_values(identity, _IDENTITY[category])
        elif category in _PROFILE:
            data[category] = _field_values(profile, _PROFILE[category])
        elif category == Category.CONTACT_HISTORY:
            data[category] = tuple(_plugin_record(r, ref) for r in records if r.kind == RecordKind.CONTACT)
        else:
            data[category] = tuple(
                _plugin_record(r, ref) for r in records
                if r.kind == RecordKind.ACTIVITY and ACTIVITY_CATEGORY.get(r.values.get("kind", "")) == category
            )
    return data


def validated_categories(opened: Iterable[OpenedRecord], categories: Iterable[str]) -> frozenset[str]:
    """The profile categories among ``categories`` whose every filled field an advisor validated
    (what a plugin may weigh more; who validated, when and on what evidence stay in the dossier)."""
    stored = _values(list(opened), RecordKind.PROFILE)
    found = set()
    for category in categories:
        filled = [stored[name] for name in _PROFILE.get(category, ()) if stored.get(name) is not None]
        if filled and all(entry["provenance"]["source"] == "advisor" for entry in filled):
            found.add(category)
    return frozenset(found)


def _field_values(values: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    if len(names) == 1:
        return values.get(names[0])
    return {name: values.get(name) for name in names}


def _plugin_record(record: OpenedRecord, ref: Callable[[str], str]) -> dict[str, Any]:
    names = _RECORD_FIELDS[RecordKind(record.kind)]
    return {"ref": ref(record.id), **{name: record.values.get(name) for name in names}, "recorded_at": iso_utc(record.created_at)}

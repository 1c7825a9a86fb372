"""Marshmallow schemas of the dossier API: what comes in is validated, what goes out documented."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_dump, post_load, validate, validates

from core.dossier.records import ACTIVITY_CATEGORY, ACTIVITY_CHANNELS, ACTIVITY_OUTCOMES, CONTACT_CHANNELS, PROFILE_FIELDS
from core.http.fields import Integer, Pattern, Text, without_nulls
from plugins.api import CONTRACT_TYPES, LANGUAGE_LEVELS, LICENCES, WORKING_TIME

POSTAL_CODE = Pattern(r"^[0-9A-Za-z][0-9A-Za-z -]{2,9}$", error="Code postal invalide / invalid postal code.")
PLAUSIBLE_TIME = validate.Range(datetime(1950, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC),
                                error="Date hors limites / date out of range.")
PHONE = re.compile(r"^\+?[0-9][0-9 ./()-]{6,22}\Z")


def belgian_national_id_is_valid(digits: str) -> bool:
    """The national register number's check: 97 minus (first nine digits mod 97), 2000+ births prefixed 2."""
    if len(digits) != 11 or not digits.isdigit():
        return False
    body, check = int(digits[:9]), int(digits[9:])
    return check in (97 - body % 97, 97 - int("2" + digits[:9]) % 97)


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class AddressSchema(StrictSchema):
    street = Text(required=True, validate=validate.Length(1, 200))
    postal_code = Text(required=True, validate=POSTAL_CODE)
    city = Text(required=True, validate=validate.Length(1, 100))
    country = Text(load_default="BE", validate=Pattern(r"^[A-Z]{2}$"))


class IdentitySchema(StrictSchema):
    """The seeker's identity (PUT replaces it whole)."""

    name = Text(required=True, validate=validate.Length(1, 200))
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    phone = Text(load_default=None, allow_none=True)
    national_id = Text(load_default=None, allow_none=True, metadata={"description": "numéro de registre national"})
    birth_date = fields.Date(load_default=None, allow_none=True)
    address = fields.Nested(AddressSchema, load_default=None, allow_none=True)

    @validates("phone")
    def _phone(self, value: str | None, **_: Any) -> None:
        if value is not None and not PHONE.match(value):
            raise ValidationError("Numéro de téléphone invalide / invalid phone number.")

    @validates("birth_date")
    def _birth_date(self, value: date | None, **_: Any) -> None:
        if value is not None and not date(1900, 1, 1) <= value <= date.today():
            raise ValidationError("Date de naissance invalide / invalid birth date.")

    @post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("national_id") is not None:
            digits = "".join(ch for ch in data["national_id"] if ch.isdigit())
            if not belgian_national_id_is_valid(digits):
                raise ValidationError("Numéro de registre national invalide / invalid national register number.", "national_id")
            data["national_id"] = digits
        if data.get("birth_date") is not None:
            data["birth_date"] = data["birth_date"].isoformat()
        return data


class LanguageSchema(StrictSchema):
    code = Text(required=True, validate=Pattern(r"^[a-z]{2,3}$"), metadata={"description": "ISO 639"})
    level = Text(required=True, validate=validate.OneOf(LANGUAGE_LEVELS), metadata={"description": "CEFR"})


class EducationSchema(StrictSchema):
    title = Text(required=True, validate=validate.Length(1, 200))
    institution = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))
    level = Text(load_default=None, allow_none=True, validate=validate.Length(max=50))
    year = Integer(load_default=None, allow_none=True, validate=validate.Range(1950, 2100))


class ExperienceSchema(StrictSchema):
    title = Text(required=True, validate=validate.Length(1, 200))
    occupation = Text(load_default=None, allow_none=True)
    employer = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))
    start = fields.Date(load_default=None, allow_none=True)
    end = fields.Date(load_default=None, allow_none=True)
    description = Text(load_default=None, allow_none=True, validate=validate.Length(max=2000))


def _codes() -> fields.List[Any]:
    return fields.List(Text(validate=validate.Length(1, 255)), allow_none=True, validate=validate.Length(max=100))


class ProfilePatchSchema(StrictSchema):
    """"Mon profil": every field optional; a field sent as null is cleared."""

    occupations = _codes()
    skills = _codes()
    languages = fields.List(fields.Nested(LanguageSchema), allow_none=True, validate=validate.Length(max=30))
    education = fields.List(fields.Nested(EducationSchema), allow_none=True, validate=validate.Length(max=30))
    experience = fields.List(fields.Nested(ExperienceSchema), allow_none=True, validate=validate.Length(max=50))
    postal_code = Text(allow_none=True, validate=POSTAL_CODE)
    mobility_radius_km = Integer(allow_none=True, validate=validate.Range(0, 500))
    available_from = fields.Date(allow_none=True)
    contract_types = fields.List(Text(validate=validate.OneOf(CONTRACT_TYPES)), allow_none=True)
    working_time = fields.List(Text(validate=validate.OneOf(WORKING_TIME)), allow_none=True)
    licences = fields.List(Text(validate=validate.OneOf(LICENCES)), allow_none=True)

    @post_load
    def _json_ready(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if not data:
            raise ValidationError("Aucun champ à modifier / no field to change.", "_schema")
        if data.get("available_from") is not None:
            data["available_from"] = data["available_from"].isoformat()
        for item in data.get("experience") or []:
            for key in ("start", "end"):
                if item.get(key) is not None:
                    item[key] = item[key].isoformat()
        return data


class ValidationRequestSchema(StrictSchema):
    field = Text(required=True, validate=validate.OneOf(sorted(PROFILE_FIELDS)))
    evidence = Text(required=True, validate=validate.Length(1, 1000))


class ProvenanceSchema(Schema):
    """A declared field has no ``validated_*`` nor ``evidence`` member."""

    source = Text(metadata={"description": "seeker (declared) or advisor (validated)"})
    declared_at = fields.DateTime(format="iso", allow_none=True)
    validated_by = Text(allow_none=True, metadata={"description": "the validating advisor's account id"})
    validated_at = fields.DateTime(format="iso", allow_none=True)
    evidence = Text(allow_none=True)


    @post_dump
    def _absent_when_not_validated(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return without_nulls(data)


class ValidationSchema(ProvenanceSchema):
    field = Text()


class ContactInSchema(StrictSchema):
    channel = Text(required=True, validate=validate.OneOf(CONTACT_CHANNELS))
    occurred_at = fields.AwareDateTime(required=True, format="iso", validate=PLAUSIBLE_TIME)
    summary = Text(required=True, validate=validate.Length(1, 4000))


class ContactSchema(ContactInSchema):
    id = Text()
    recorded_by = Text(allow_none=True)
    recorded_at = fields.DateTime(format="iso")


class ActivityInSchema(StrictSchema):
    kind = Text(required=True, validate=validate.OneOf(sorted(ACTIVITY_CATEGORY)))
    occurred_at = fields.AwareDateTime(required=True, format="iso", validate=PLAUSIBLE_TIME)
    description = Text(required=True, validate=validate.Length(1, 4000))
    organisation = Text(allow_none=True, validate=validate.Length(1, 200),
                        metadata={"description": "the employer or organisation"})
    occupation = Text(allow_none=True, validate=validate.Length(1, 200), metadata={"description": "an occupation code of the taxonomy"})
    channel = Text(allow_none=True, validate=validate.OneOf(ACTIVITY_CHANNELS))
    outcome = Text(allow_none=True, validate=validate.OneOf(ACTIVITY_OUTCOMES))


class ActivityOutcomeSchema(StrictSchema):
    """What came of a step, once known (``null``: not known)."""

    outcome = Text(required=True, allow_none=True, validate=validate.OneOf(ACTIVITY_OUTCOMES))


class ActivitySchema(ActivityInSchema):
    id = Text()
    recorded_at = fields.DateTime(format="iso")


class WithheldSchema(Schema):
    section = Text()
    reason = Text()
    consent = Text(allow_none=True)


class ProfileSchema(ProfilePatchSchema):
    """"Mon profil" as stored: a field the seeker has not filled is absent."""

    provenance = fields.Dict(keys=Text(), values=fields.Nested(ProvenanceSchema))

    @post_dump
    def _absent_when_empty(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return without_nulls(data)


class _SectionsSchema(Schema):
    """Sections a reader may not see are absent (and listed in ``withheld``)."""

    identity = fields.Nested(IdentitySchema)
    profile = fields.Nested(ProfileSchema)
    contacts = fields.List(fields.Nested(ContactSchema))
    activities = fields.List(fields.Nested(ActivitySchema))

    @post_dump
    def _absent_when_withheld(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return without_nulls(data, _SECTIONS)


_SECTIONS = ("identity", "profile", "contacts", "activities")


class DossierSchema(_SectionsSchema):
    subject_id = Text()
    withheld = fields.List(fields.Nested(WithheldSchema))


class ExportAccountSchema(Schema):
    id = Text()
    username = Text()
    created_at = fields.DateTime(format="iso")


class ExportedReceiptSchema(Schema):
    receipt_id = Text()
    purpose = Text()
    state = Text()
    timestamp = fields.DateTime(format="iso")
    receipt_jws = Text(metadata={"description": "the signed consent receipt (compact JWS; key in the JWKS)"})


class ExportSchema(_SectionsSchema):
    """Everything held about the seeker, portable (GDPR article 20)."""

    format = Text(metadata={"description": "dossier-export/1"})
    exported_at = fields.DateTime(format="iso")
    subject_id = Text()
    account = fields.Nested(ExportAccountSchema)
    assigned_advisors = fields.List(Text())
    consents = fields.List(fields.Nested(ExportedReceiptSchema))


class LookupSchema(StrictSchema):
    national_id = Text(load_default=None)
    email = fields.Email(load_default=None)

    @post_load
    def _one_of(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if (data["national_id"] is None) == (data["email"] is None):
            raise ValidationError("Donnez national_id ou email / give national_id or email.", "_schema")
        return data


class LookupResultSchema(Schema):
    subject_ids = fields.List(Text())


class AssignedSeekerSchema(Schema):
    subject_id = Text()
    username = Text()
    assigned_at = fields.DateTime(format="iso")


class AssignedEmployerSchema(Schema):
    employer_id = Text()
    name = Text()
    assigned_at = fields.DateTime(format="iso")


class CaseloadSchema(Schema):
    seekers = fields.List(fields.Nested(AssignedSeekerSchema))
    employers = fields.List(fields.Nested(AssignedEmployerSchema))

"""Marshmallow schemas of employers' searches: the criteria checked as they come in, the answer documented."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from core.dossier.schemas import POSTAL_CODE, LanguageSchema, StrictSchema
from core.http.fields import Integer, Pattern, Text
from plugins.api import CONTRACT_TYPES, LANGUAGE_LEVELS, LICENCES, SEARCH_CRITERIA, WORKING_TIME

CODE = validate.Length(1, 255)
MAX_SKILLS = 20


class SkillsCriteriaSchema(StrictSchema):
    required = fields.List(Text(validate=CODE), load_default=list, validate=validate.Length(max=MAX_SKILLS),
                           metadata={"description": "every one is needed: a filter"})
    preferred = fields.List(Text(validate=CODE), load_default=list, validate=validate.Length(max=MAX_SKILLS),
                            metadata={"description": "each one held adds to the score"})


class LanguageCriterionSchema(StrictSchema):
    code = Text(required=True, validate=Pattern(r"^[a-z]{2,3}$"), metadata={"description": "ISO 639"})
    min_level = Text(load_default="A1", validate=validate.OneOf(LANGUAGE_LEVELS), metadata={"description": "CEFR, or native"})


def _choices(choices: tuple[str, ...]) -> fields.List[Any]:
    return fields.List(Text(validate=validate.OneOf(choices)), load_default=list, validate=validate.Length(max=len(choices)))


class SearchCriteriaSchema(StrictSchema):
    """What an employer looks for. Filters decide who matches; every criterion given adds to the score."""

    occupation = Text(load_default=None, allow_none=True, validate=CODE, metadata={"description": "an occupation code"})
    skills = fields.Nested(SkillsCriteriaSchema, load_default=lambda: {"required": [], "preferred": []})
    languages = fields.List(fields.Nested(LanguageCriterionSchema), load_default=list, validate=validate.Length(max=10))
    postal_code = Text(load_default=None, allow_none=True, validate=Pattern(r"^[1-9][0-9]{3}$"),
                       metadata={"description": "a Belgian postal code"})
    radius_km = Integer(load_default=None, allow_none=True, validate=validate.Range(1, 300))
    available_by = fields.Date(load_default=None, allow_none=True)
    contract_types = _choices(CONTRACT_TYPES)
    working_time = _choices(WORKING_TIME)
    licences = _choices(LICENCES)
    min_experience_months = Integer(load_default=None, allow_none=True, validate=validate.Range(0, 600))
    min_education_level = Integer(load_default=None, allow_none=True, validate=validate.Range(0, 8),
                                  metadata={"description": "ISCED 2011 level"})
    weights = fields.Dict(keys=Text(validate=validate.OneOf(SEARCH_CRITERIA)),
                          values=fields.Float(validate=validate.Range(0, 10), allow_nan=False), load_default=dict,
                          metadata={"description": "a weight from 0 to 10 per criterion"})
    limit = Integer(load_default=20, validate=validate.Range(1, 100))
    offset = Integer(load_default=0, validate=validate.Range(0, 10_000))

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        skills = data.get("skills") or {}
        if not data.get("occupation") and not skills.get("required") and not skills.get("preferred"):
            raise ValidationError("Indiquez un métier ou une compétence / give an occupation or a skill.", "occupation")
        if data.get("radius_km") is not None and data.get("postal_code") is None:
            raise ValidationError("Un rayon demande un code postal / a radius needs a postal code.", "radius_km")
        if len({item["code"] for item in data.get("languages") or ()}) != len(data.get("languages") or ()):
            raise ValidationError("Une langue n'est citée qu'une fois / each language once.", "languages")

    @post_load
    def _json_ready(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("available_by") is not None:
            data["available_by"] = data["available_by"].isoformat()
        skills = data["skills"]
        data["skills"] = {"required": list(dict.fromkeys(skills["required"])),
                          "preferred": [c for c in dict.fromkeys(skills["preferred"]) if c not in skills["required"]]}
        return data


class ExplainedSchema(Schema):
    criterion = Text(metadata={"description": "one of the search's criteria"})
    matched = fields.Boolean()
    value = fields.Float(metadata={"description": "how well it matched, 0 to 1, after the weight of validation"})
    weight = fields.Float()
    points = fields.Float(metadata={"description": "its part of the score: the points add up to the score"})
    share = fields.Float(metadata={"description": "points / score"})
    validated = fields.Boolean(allow_none=True, metadata={"description": "whether an advisor validated the field"})
    fr = Text()
    en = Text()


class CandidateSchema(Schema):
    candidate_ref = Text(metadata={"description": "this employer's name for the candidate"})
    rank = Integer()
    score = fields.Float(metadata={"description": "0 to 100"})
    explanation = fields.List(fields.Nested(ExplainedSchema))
    occupations = fields.List(Text())
    skills = fields.List(Text())
    languages = fields.List(fields.Nested(LanguageSchema))
    postal_code = Text(allow_none=True, validate=POSTAL_CODE)
    distance_km = Integer(allow_none=True)
    available_from = fields.Date(allow_none=True)
    contract_types = fields.List(Text())
    working_time = fields.List(Text())
    licences = fields.List(Text())
    education = fields.List(fields.Dict())
    experience = fields.List(fields.Dict())
    validated = fields.List(Text(), metadata={"description": "profile fields an advisor validated"})


class SearchResultSchema(Schema):
    search_id = Text()
    created_at = fields.DateTime(format="iso")
    total = Integer(metadata={"description": "how many published profiles match, over every page"})
    offset = Integer()
    limit = Integer()
    candidates = fields.List(fields.Nested(CandidateSchema))


class PastSearchSchema(Schema):
    search_id = Text()
    created_at = fields.DateTime(format="iso")
    criteria = fields.Dict()
    total = Integer()
    shown = Integer()
    no_match = fields.Boolean()


class AppearanceSchema(Schema):
    search_id = Text()
    created_at = fields.DateTime(format="iso")
    employer_id = Text()
    employer_name = Text()
    rank = Integer()
    score = fields.Float()
    explanation = fields.List(fields.Nested(ExplainedSchema))

"""HTTP endpoints of the taxonomy: the codes that profiles and searches use."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from core.http.api import ApiBlueprint
from core.http.fields import Text
from core.identity.roles import Actor
from core.runtime import runtime
from core.taxonomy import service

api = ApiBlueprint("taxonomy", url_prefix="/api/v1/taxonomy")
TAGS = ("taxonomy",)


class TaxonomyQuerySchema(Schema):
    q = Text(load_default=None, validate=validate.Length(max=100))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class ConceptSchema(Schema):
    code = fields.String()
    label_fr = fields.String(allow_none=True)
    label_en = fields.String(allow_none=True)


def _search(kind: str, query: dict[str, Any]) -> list[service.Concept]:
    with runtime().engine.connect() as conn:
        return service.search(conn, kind, query["q"], query["limit"])


@api.operation("/occupations", summary="Chercher un métier / search occupations", tags=TAGS,
               query=TaxonomyQuerySchema, response=ConceptSchema(many=True))
def occupations(actor: Actor, query: dict[str, Any]) -> list[service.Concept]:
    return _search("occupation", query)


@api.operation("/skills", summary="Chercher une compétence / search skills", tags=TAGS,
               query=TaxonomyQuerySchema, response=ConceptSchema(many=True))
def skills(actor: Actor, query: dict[str, Any]) -> list[service.Concept]:
    return _search("skill", query)

"""HTTP endpoints of employers' searches: parse with a schema, call one service, answer JSON."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from core.http.api import ApiBlueprint
from core.identity.roles import Actor
from core.plugins.gateway import plugin_gateway
from core.runtime import runtime
from core.search import schemas, service

api = ApiBlueprint("search", url_prefix="/api/v1")
EMPLOYER = "/employers/<uuid:employer_id>"
TAGS = ("employers",)


class PastSearchesQuerySchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    before = fields.AwareDateTime(load_default=None, metadata={"description": "only searches made before this time"})


@api.operation(EMPLOYER + "/searches", "POST", summary="Je cherche un candidat / search published profiles", tags=TAGS,
               body=schemas.SearchCriteriaSchema, response=schemas.SearchResultSchema(), status=201, errors=(403, 404))
def search_candidates(actor: Actor, employer_id: str, body: dict[str, Any]) -> service.SearchResult:
    """Pseudonymous candidates, best first, each with the explanation of its score; `total` counts
    every match. Unknown codes or out-of-range values are a 422 that records nothing."""
    return service.search(runtime(), plugin_gateway(), actor, employer_id, body)


@api.operation(EMPLOYER + "/searches", summary="Mes recherches / my past searches", tags=TAGS,
               query=PastSearchesQuerySchema, response=schemas.PastSearchSchema(many=True), errors=(403, 404))
def past_searches(actor: Actor, employer_id: str, query: dict[str, Any]) -> list[service.PastSearch]:
    """Criteria and counts, newest first; run a search again to see its candidates as they are now."""
    return service.past_searches(runtime(), actor, employer_id, query["limit"], query["before"])


@api.operation(EMPLOYER + "/searches/<uuid:search_id>", summary="Une recherche passée / one past search", tags=TAGS,
               response=schemas.PastSearchSchema(), errors=(403, 404))
def past_search(actor: Actor, employer_id: str, search_id: str) -> service.PastSearch:
    return service.past_search(runtime(), actor, employer_id, search_id)


@api.operation("/seekers/<uuid:subject_id>/appearances", summary="Où mon profil a été montré / where my profile was shown",
               tags=TAGS, response=schemas.AppearanceSchema(many=True), errors=(403, 404, 410))
def my_appearances(actor: Actor, subject_id: str) -> list[service.Appearance]:
    """The seeker's own: each employer's search that showed the profile, when, at what rank and why."""
    return service.appearances(runtime(), actor, subject_id)

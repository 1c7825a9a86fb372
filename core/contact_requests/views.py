"""HTTP endpoints of contact requests: parse with a schema, call one service, answer JSON."""

from __future__ import annotations

from typing import Any

from core.contact_requests import schemas, service
from core.http.api import ApiBlueprint
from core.identity.roles import Actor
from core.plugins.gateway import plugin_gateway
from core.runtime import runtime

api = ApiBlueprint("contact_requests", url_prefix="/api/v1")
EMPLOYER = "/employers/<uuid:employer_id>/contact-requests"
SEEKER = "/seekers/<uuid:subject_id>/contact-requests"
TAGS = ("contact requests",)


@api.operation(EMPLOYER, "POST", summary="Demander à contacter un candidat / ask to contact a candidate", tags=TAGS,
               body=schemas.ContactRequestInSchema, response=schemas.ContactRequestSchema(), status=201,
               errors=(403, 404, 409, 429))
def send_contact_request(actor: Actor, employer_id: str, body: dict[str, Any]) -> service.ContactRequest:
    """The candidate must be one of your searches' and still published; one pending request per
    candidate, and a daily limit per employer (429)."""
    return service.send(runtime(), actor, employer_id, body["candidate_ref"], body["message"])


@api.operation(EMPLOYER, summary="Demandes de contact de l'employeur / the employer's contact requests", tags=TAGS,
               response=schemas.ContactRequestSchema(many=True), errors=(403, 404))
def employer_contact_requests(actor: Actor, employer_id: str) -> list[service.ContactRequest]:
    """For the employer's users and its assigned advisors: states and times, no identity."""
    return service.employer_requests(runtime(), actor, employer_id)


@api.operation(EMPLOYER + "/<uuid:request_id>", summary="Une demande de contact / one contact request", tags=TAGS,
               response=schemas.ContactRequestSchema(), errors=(403, 404))
def employer_contact_request(actor: Actor, employer_id: str, request_id: str) -> service.ContactRequest:
    """`name` and `contact` appear once the seeker accepted, while that stands (each read audited)."""
    return service.employer_request(runtime(), actor, employer_id, request_id)


@api.operation(SEEKER, summary="Mes demandes de contact / my contact requests", tags=TAGS,
               response=schemas.SeekerContactRequestSchema(many=True), errors=(403, 404, 410))
def seeker_contact_requests(actor: Actor, subject_id: str) -> list[service.ContactRequest]:
    return service.seeker_requests(runtime(), actor, subject_id)


@api.operation(SEEKER + "/<uuid:request_id>/accept", "POST", summary="Accepter / accept", tags=TAGS,
               response=schemas.DecidedSchema(), errors=(403, 404, 409, 410), body_required=False)
def accept_contact_request(actor: Actor, subject_id: str, request_id: str) -> service.Decided:
    """Gives this employer, for this request, your name and contact details (a consent, with its receipt)."""
    return service.accept(runtime(), plugin_gateway(), actor, subject_id, request_id)


@api.operation(SEEKER + "/<uuid:request_id>/refuse", "POST", summary="Refuser / refuse", tags=TAGS,
               response=schemas.DecidedSchema(), errors=(403, 404, 409, 410), body_required=False)
def refuse_contact_request(actor: Actor, subject_id: str, request_id: str) -> service.Decided:
    return service.refuse(runtime(), plugin_gateway(), actor, subject_id, request_id)


@api.operation(SEEKER + "/<uuid:request_id>/withdraw", "POST", summary="Retirer mon accord / withdraw my acceptance",
               tags=TAGS, response=schemas.DecidedSchema(), errors=(403, 404, 409, 410), body_required=False)
def withdraw_contact_acceptance(actor: Actor, subject_id: str, request_id: str) -> service.Decided:
    """The employer no longer sees your name and contact details (a withdrawal receipt)."""
    return service.withdraw(runtime(), plugin_gateway(), actor, subject_id, request_id)

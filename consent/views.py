"""HTTP endpoints of consent: the catalogue, consents, publication and receipts."""

from __future__ import annotations

from typing import Any


from consent import schemas, service
from consent.receipts import Receipt
from core.errors import NotFound
from core.http.api import ApiBlueprint, Attachment
from core.identity.roles import Actor
from core.plugins.gateway import plugin_gateway
from core.runtime import runtime

api = ApiBlueprint("consent", url_prefix="/api/v1")
SEEKER = "/seekers/<uuid:subject_id>"
TAGS = ("consent",)


@api.operation("/purposes", summary="Catalogue des finalités / purpose catalogue", tags=TAGS,
               response=schemas.PurposeSchema(many=True))
def purposes(actor: Actor) -> list[service.PurposeInfo]:
    """Every purpose with its legal basis, categories, recipients, retention and current notice (fr, en)."""
    return service.list_purposes(runtime())


@api.operation(SEEKER + "/consents", summary="État des consentements / consent states", tags=TAGS,
               response=schemas.ConsentStateSchema(many=True), errors=(403, 404, 410))
def consents(actor: Actor, subject_id: str) -> list[service.ConsentOverview]:
    return service.consents_of(runtime(), actor, subject_id)


@api.operation(SEEKER + "/consents", "POST", summary="Donner un consentement / grant a consent", tags=TAGS,
               body=schemas.GrantSchema, response=schemas.ReceiptSchema(), status=201, errors=(403, 404, 409, 410))
def grant(actor: Actor, subject_id: str, body: dict[str, Any]) -> Receipt:
    """The seeker grants, naming the notice version they read (409 if it is not the current one).

    An assigned advisor may record a consent the seeker gave in person (`channel`: `in_person` or
    `call_centre`); the receipt names the advisor and records the act as the seeker's."""
    return service.grant(runtime(), plugin_gateway(), actor, subject_id, body["purpose"], body["notice_version"], body["channel"],
                         body["expires_at"])


@api.operation(SEEKER + "/consents/<purpose>", "DELETE", summary="Retirer un consentement / withdraw a consent",
               tags=TAGS, query=schemas.WithdrawQuerySchema, response=schemas.ReceiptSchema(), errors=(403, 404, 409, 410))
def withdraw(actor: Actor, subject_id: str, purpose: str, query: dict[str, Any]) -> Receipt:
    """Takes effect at commit: no read that starts afterwards is allowed."""
    if not schemas.PURPOSE_NAME.matches(purpose):
        raise NotFound()
    return service.withdraw(runtime(), plugin_gateway(), actor, subject_id, purpose, query["channel"])


@api.operation(SEEKER + "/publication", "POST", summary="Publier le profil / publish the profile", tags=TAGS,
               body=schemas.PublicationSchema, body_required=False, response=schemas.ReceiptSchema(many=True),
               status=201, errors=(403, 404, 409, 410))
def publish(actor: Actor, subject_id: str, body: dict[str, Any]) -> list[Receipt]:
    """Grants `profile.matching` and `activity.advisor_access` together; returns both receipts."""
    return service.publish(runtime(), plugin_gateway(), actor, subject_id, body["notice_versions"], body["channel"])


@api.operation(SEEKER + "/publication", "DELETE", summary="Dépublier le profil / unpublish the profile", tags=TAGS,
               query=schemas.WithdrawQuerySchema, response=schemas.ReceiptSchema(many=True), errors=(403, 404, 409, 410))
def unpublish(actor: Actor, subject_id: str, query: dict[str, Any]) -> list[Receipt]:
    return service.unpublish(runtime(), plugin_gateway(), actor, subject_id, query["channel"])


@api.operation(SEEKER + "/consents/receipts", summary="Mes reçus de consentement / my consent receipts", tags=TAGS,
               response=schemas.ReceiptListItemSchema(many=True), errors=(403, 404, 410))
def receipts(actor: Actor, subject_id: str) -> list[service.ReceiptItem]:
    return service.receipts_of(runtime(), actor, subject_id)


@api.operation(SEEKER + "/consents/receipts/<uuid:receipt_id>", summary="Un reçu / one receipt", tags=TAGS,
               response=schemas.ReceiptSchema(), errors=(403, 404, 410))
def receipt(actor: Actor, subject_id: str, receipt_id: str) -> Attachment:
    return Attachment(service.receipt(runtime(), actor, subject_id, receipt_id), f"consent-receipt-{receipt_id}.json")

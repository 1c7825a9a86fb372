"""HTTP endpoints of the dossier: parse with a schema, call one service, answer JSON."""

from __future__ import annotations

from typing import Any


from core.dossier import schemas, service
from core.http.api import ApiBlueprint, Attachment
from core.identity.roles import Actor
from core.plugins.gateway import plugin_gateway
from core.runtime import runtime

api = ApiBlueprint("dossier", url_prefix="/api/v1")
SEEKER = "/seekers/<uuid:subject_id>"
TAGS = ("dossier",)


@api.operation(SEEKER + "/dossier", summary="Lire le dossier / read the dossier", tags=TAGS,
               response=schemas.DossierSchema(), errors=(403, 404, 410))
def read_dossier(actor: Actor, subject_id: str) -> service.Dossier:
    """Sections the caller may not see are absent and listed in `withheld` with the reason."""
    return service.read_dossier(runtime(), actor, subject_id)


@api.operation(SEEKER + "/identity", "PUT", summary="Remplacer l'identité / replace the identity", tags=TAGS,
               body=schemas.IdentitySchema, response=schemas.IdentitySchema(), errors=(403, 404, 409, 410))
def put_identity(actor: Actor, subject_id: str, body: dict[str, Any]) -> Any:
    return service.put_identity(runtime(), actor, subject_id, body)


@api.operation(SEEKER + "/profile", "PATCH", summary="Modifier « Mon profil » / change the profile", tags=TAGS,
               body=schemas.ProfilePatchSchema, response=schemas.ProfileSchema(), errors=(403, 404, 410))
def patch_profile(actor: Actor, subject_id: str, body: dict[str, Any]) -> Any:
    """Only the fields sent change; `null` clears a field. A changed field loses its validation."""
    return service.patch_profile(runtime(), plugin_gateway(), actor, subject_id, body)


@api.operation(SEEKER + "/profile/validations", "POST", summary="Valider un champ du profil / validate a profile field",
               tags=TAGS, body=schemas.ValidationRequestSchema, response=schemas.ValidationSchema(), status=201,
               errors=(403, 404, 410))
def validate_profile_field(actor: Actor, subject_id: str, body: dict[str, Any]) -> service.Validation:
    return service.validate_profile_field(runtime(), plugin_gateway(), actor, subject_id, body["field"], body["evidence"])


@api.operation(SEEKER + "/contacts", "POST", summary="Enregistrer un contact / record a contact", tags=TAGS,
               body=schemas.ContactInSchema, response=schemas.ContactSchema(), status=201, errors=(403, 404, 410))
def record_contact(actor: Actor, subject_id: str, body: dict[str, Any]) -> Any:
    return service.record_contact(runtime(), plugin_gateway(), actor, subject_id, body)


@api.operation(SEEKER + "/activities", "POST", summary="Déclarer une démarche / record a job-search activity",
               tags=TAGS, body=schemas.ActivityInSchema, response=schemas.ActivitySchema(), status=201,
               errors=(403, 404, 410))
def record_activity(actor: Actor, subject_id: str, body: dict[str, Any]) -> Any:
    return service.record_activity(runtime(), plugin_gateway(), actor, subject_id, body)


@api.operation(SEEKER + "/activities", summary="Lister les démarches / list job-search activities", tags=TAGS,
               response=schemas.ActivitySchema(many=True), errors=(403, 404, 410))
def list_activities(actor: Actor, subject_id: str) -> Any:
    """An assigned advisor reads them only while `activity.advisor_access` is granted (403 consent-required)."""
    return service.list_activities(runtime(), actor, subject_id)


@api.operation(SEEKER + "/activities/<uuid:activity_id>", "PATCH", summary="Dire ce qu'a donné une démarche / "
               "set what came of an activity", tags=TAGS, body=schemas.ActivityOutcomeSchema, response=schemas.ActivitySchema(),
               errors=(403, 404, 410))
def set_activity_outcome(actor: Actor, subject_id: str, activity_id: str, body: dict[str, Any]) -> Any:
    """The seeker only; `outcome` is one of the outcomes listed, or `null` when not known."""
    return service.set_activity_outcome(runtime(), plugin_gateway(), actor, subject_id, activity_id, body["outcome"])


@api.operation(SEEKER + "/export", summary="Exporter tout le dossier (JSON portable) / export everything", tags=TAGS,
               response=schemas.ExportSchema(), errors=(403, 404, 410))
def export_dossier(actor: Actor, subject_id: str) -> Attachment:
    return Attachment(service.export_dossier(runtime(), actor, subject_id), f"dossier-{subject_id}.json")


@api.operation(SEEKER, "DELETE", summary="Effacer le dossier (destruction de la clé) / erase by key destruction",
               tags=TAGS, status=204, errors=(403, 404, 410))
def erase_subject(actor: Actor, subject_id: str) -> None:
    service.erase_subject(runtime(), plugin_gateway(), actor, subject_id)


@api.operation("/seekers/lookup", "POST", summary="Retrouver un dossier par numéro national ou e-mail / exact lookup",
               tags=TAGS, body=schemas.LookupSchema, response=schemas.LookupResultSchema(), errors=(403,))
def lookup(actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
    """Through keyed blind indexes; an advisor finds only seekers assigned to them."""
    return {"subject_ids": service.lookup_subjects(runtime(), actor, body["national_id"], body["email"])}


@api.operation("/caseload", summary="Mon portefeuille: chercheurs et employeurs suivis / my caseload",
               tags=("accounts",), response=schemas.CaseloadSchema(), errors=(403,))
def my_caseload(actor: Actor) -> service.Caseload:
    """Advisors: the seekers (subject ids, usernames) and employers assigned to the caller; no dossier content.
    Each seeker listed is a decision, recorded: the seeker reads it in their access log."""
    return service.caseload(runtime(), actor)

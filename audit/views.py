"""HTTP endpoints of the audit log."""

from __future__ import annotations

from typing import Any

from audit import schemas, service
from audit.store import Checkpoint
from core.http.api import ApiBlueprint
from core.identity.roles import Actor
from core.runtime import runtime

api = ApiBlueprint("audit", url_prefix="/api/v1")
TAGS = ("audit",)


@api.operation("/audit/entries", summary="Entrées du journal d'audit / audit entries", tags=TAGS,
               query=schemas.EntriesQuerySchema, response=schemas.EntriesPageSchema(), errors=(403,))
def entries(actor: Actor, query: dict[str, Any]) -> service.EntriesPage:
    """Auditors only. Filter by `subject`, `actor`, `decision`, `since`/`until`; page with `after` (a leaf index)."""
    return service.entries(runtime(), actor, subject=query["subject"], actor_id=query["actor"], decision=query["decision"],
                           since=query["since"], until=query["until"], after=query["after"], limit=query["limit"])


@api.operation("/audit/checkpoint", summary="Point de contrôle signé / signed checkpoint", tags=TAGS,
               response=schemas.CheckpointSchema(), errors=(403,))
def checkpoint(actor: Actor) -> Checkpoint:
    """Covers every entry committed before the request; signed on demand when the tree has grown."""
    return service.checkpoint(runtime(), actor)


@api.operation("/audit/checkpoint.note", summary="Point de contrôle en note signée C2SP / checkpoint as a C2SP signed note",
               tags=TAGS, public=True, text="text/plain")
def checkpoint_note() -> str:
    """The latest checkpoint in the C2SP tlog-checkpoint signed-note format, with the cosignatures of
    the configured witnesses; its key is the JWKS key whose `dossier_use` is `checkpoint`, named by the
    log's origin (the note's first line)."""
    return service.checkpoint_note(runtime())


@api.operation("/audit/proofs/inclusion", summary="Preuve d'inclusion (RFC 9162 2.1.3)", tags=TAGS,
               query=schemas.InclusionQuerySchema, response=schemas.InclusionProofSchema(), errors=(403, 404))
def inclusion(actor: Actor, query: dict[str, Any]) -> service.InclusionProof:
    """Auditors for any entry; a seeker for the entries about them."""
    return service.inclusion_proof(runtime(), actor, query["leaf_index"], query["tree_size"])


@api.operation("/audit/proofs/consistency", summary="Preuve de cohérence (RFC 9162 2.1.4)", tags=TAGS,
               query=schemas.ConsistencyQuerySchema, response=schemas.ConsistencyProofSchema(), errors=(403,))
def consistency(actor: Actor, query: dict[str, Any]) -> service.ConsistencyProof:
    return service.consistency_proof(runtime(), actor, query["first"], query["second"])


@api.operation("/seekers/<uuid:subject_id>/access-log", summary="Qui a consulté mon dossier / who accessed my data",
               tags=TAGS, response=schemas.AccessLogSchema(), errors=(403, 404, 410))
def access_log(actor: Actor, subject_id: str) -> service.AccessLog:
    """Every entry about the seeker, each with its leaf and inclusion path, and a signed checkpoint:
    saved whole, the response is what `python -m audit.verifier --access-log FILE --jwks JWKS` checks."""
    return service.access_log(runtime(), actor, subject_id)

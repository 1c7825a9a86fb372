"""HTTP endpoints of evidence documents: the seeker's attestation, and its public verification."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from core.errors import DossierError, NotFound
from core.evidence import document, schemas, service
from core.evidence.render import PdfUnavailable
from core.http.api import ApiBlueprint, MalformedRequest, UnsupportedMediaType
from core.identity.roles import Actor
from core.runtime import runtime

api = ApiBlueprint("evidence", url_prefix="/api/v1")
TAGS = ("evidence",)


class RenderingUnavailable(DossierError):
    slug, status = "unavailable", 503


@api.operation("/seekers/<uuid:subject_id>/evidence", summary="Attestation de recherche active d'emploi / evidence of job search",
               tags=TAGS, query=schemas.EvidenceQuerySchema, errors=(403, 404, 410, 503), text=document.PDF,
               also=(document.HTML,))
def evidence_document(actor: Actor, subject_id: str, query: dict[str, Any]) -> Response:
    """A PDF (PDF/A-3b, tagged), or the print-ready HTML page with `Accept: text/html` or `format=html`,
    of the activities from `from` to `to` (or only the `entries` named). The seeker; their assigned advisor
    while `activity.advisor_access` is granted. Each generation is an audit entry."""
    negotiated = request.accept_mimetypes.best_match([document.PDF, document.HTML], default=document.PDF)
    wanted = query.get("format") or ("html" if negotiated == document.HTML else "pdf")
    chosen = query["entries"].split(",") if "entries" in query else None
    try:
        made = service.generate(runtime(), actor, subject_id, (query["from_"], query["to"]), chosen,
                                document.HTML if wanted == "html" else document.PDF)
    except PdfUnavailable:
        raise RenderingUnavailable("Le PDF ne peut pas être produit sur ce serveur (Pango manque); demandez format=html / "
                                   "this server cannot make PDFs (Pango is missing); ask for format=html.") from None
    mimetype = "text/html; charset=utf-8" if made.media_type == document.HTML else made.media_type
    return Response(made.content, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{made.filename}"', "Cache-Control": "no-store",
        "X-Evidence-Code": made.code})


@api.operation("/evidence/verifications", "POST", summary="Vérifier une attestation / verify an evidence document",
               tags=TAGS, public=True, response=schemas.VerificationSchema(), errors=(400, 413, 415))
def verify_evidence(**_: Any) -> service.Verification:
    """The document itself as the body (`application/pdf` or `text/html`): whether this service issued it, unaltered,
    and then what period and how many entries it covers, when it was issued; nothing about its holder."""
    if request.mimetype not in (document.PDF, document.HTML):
        raise UnsupportedMediaType("Envoyez le document: application/pdf ou text/html / send the document as "
                                   "application/pdf or text/html.")
    body = request.get_data(cache=False)
    if not body:
        raise MalformedRequest("Le corps doit être le document / the body must be the document.")
    return service.verify(runtime(), body)


@api.operation("/evidence/<code>", summary="Ce que désigne un code de vérification / what a verification code stands for",
               tags=TAGS, public=True, response=schemas.CodeLookupSchema(), errors=(404,), cache_seconds=60)
def evidence_by_code(code: str) -> dict[str, Any]:
    """The code printed on a document (and in its QR code): when it was issued, its period, its number of entries and
    each rendering's media type; nothing about its holder. Verify the file itself with `POST /evidence/verifications`."""
    found = service.lookup(runtime(), code)
    if not found:
        raise NotFound("Aucune attestation sous ce code / no evidence document under this code.")
    return {"code": found[0].code, "documents": found}

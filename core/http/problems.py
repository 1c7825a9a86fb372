"""Errors as RFC 9457 problem details, with stable types and French-first titles.

Nothing here repeats what the caller sent or what an exception says: a problem names the field
at fault and what is expected, never a value (it could be personal data).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from config.logging import exception_summary
from core.errors import AccessRefused, ConsentRequired, DossierError, Forbidden, NotFound

PROBLEM_JSON = "application/problem+json"

# slug -> (French title, English title)
TITLES: dict[str, tuple[str, str]] = {
    "validation-error": ("Données invalides", "Invalid input"),
    "malformed-request": ("Requête mal formée", "Malformed request"),
    "unauthenticated": ("Authentification requise", "Authentication required"),
    "forbidden": ("Accès refusé", "Access denied"),
    "consent-required": ("Consentement requis", "Consent required"),
    "not-found": ("Introuvable", "Not found"),
    "too-many-requests": ("Trop de demandes", "Too many requests"),
    "erased": ("Données effacées", "Data erased"),
    "conflict": ("Conflit", "Conflict"),
    "method-not-allowed": ("Méthode non permise", "Method not allowed"),
    "unsupported-media-type": ("Type de contenu non pris en charge", "Unsupported media type"),
    "payload-too-large": ("Requête trop volumineuse", "Payload too large"),
    "internal-error": ("Erreur interne", "Internal error"),
    "unavailable": ("Service indisponible", "Service unavailable"),
    "oauth-error": ("Demande de jeton refusée", "Token request refused"),
    "plugin-error": ("Le plugin n'a pas répondu", "The plugin did not answer"),
    "invalid-signature": ("Signature du message invalide", "Invalid message signature"),
    "invalid-idempotency-key": ("Clé d'idempotence invalide", "Invalid idempotency key"),
    "idempotency-key-reused": ("Clé d'idempotence déjà utilisée", "Idempotency key already used"),
    "request-in-flight": ("Message en cours de traitement", "Message still being processed"),
    "channel-message-refused": ("Message refusé par le canal", "Message refused by the channel"),
    "error": ("Erreur", "Error"),
}

_HTTP_SLUGS = {400: "malformed-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
               409: "conflict", 413: "payload-too-large", 415: "unsupported-media-type", 500: "internal-error",
               503: "unavailable"}

log = logging.getLogger("dossier.http")


def problem(slug: str, status: int, detail: str = "", **extra: Any) -> Response:
    """A problem+json response."""
    french, english = TITLES.get(slug, TITLES["error"])
    english_first = request.accept_languages.best_match(["fr", "en"], default="fr") == "en"
    body: dict[str, Any] = {
        "type": current_app.config["PROBLEM_TYPE_BASE"] + slug,
        "title": english if english_first else french,
        "status": status,
        "detail": detail or (english if english_first else french),
    }
    request_id = getattr(g, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    # ASCII escapes: a problem must be writable whatever it carries.
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="dossier"'
    return response


def _refused(exc: AccessRefused) -> Response:
    decision = exc.decision
    if not decision.visible:
        return _dossier_error(NotFound())
    if decision.consent_required:
        return _dossier_error(ConsentRequired(
            "Le chercheur d'emploi n'a pas donné ce consentement / the seeker has not given this consent.",
            consent=decision.consent_required,
        ))
    return _dossier_error(Forbidden())


def _dossier_error(exc: DossierError) -> Response:
    return problem(exc.slug, exc.status, exc.detail, **exc.extra)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    response = problem(_HTTP_SLUGS.get(status, "error"), status)
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return response


def _unexpected(exc: Exception) -> Response:
    # NOTE: only the type and frames are logged (config.logging.exception_summary), no message.
    log.error("unhandled error", extra={"request_id": getattr(g, "request_id", None), "error": exception_summary(exc)})
    return problem("internal-error", 500)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(AccessRefused, _refused)
    app.register_error_handler(DossierError, _dossier_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)

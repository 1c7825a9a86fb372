"""The OpenAPI 3 document, generated from the declared operations and their marshmallow schemas.

What the server can answer is in it: each operation's success with its schema, and every error
status it can return as a problem (RFC 9457) with the members real errors carry. Every operation
has an ``operationId``, and patterns are those of ``core.http.fields.Pattern`` (read alike by
Python and ECMA-262), so that a generated client works with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from core.http.api import Operation

_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
_ERROR_TEXT = {
    400: "Requête mal formée (JSON invalide) / malformed request", 401: "Jeton absent ou invalide / missing or invalid token",
    403: "Accès refusé (ou consentement requis) / access denied (or consent required)",
    404: "Introuvable, ou aucun lien avec l'appelant / not found, or no relation to the caller",
    409: "Conflit / conflict", 410: "Données effacées / data erased", 413: "Requête trop volumineuse / payload too large",
    415: "Le corps doit être du JSON / the body must be JSON", 422: "Données invalides / invalid input",
    502: "Le plugin n'a pas répondu correctement / the plugin failed", 503: "Service indisponible / service unavailable",
    504: "Le plugin n'a pas répondu à temps / the plugin timed out",
}
PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details; `errors`, `consent`, `field` and `error` appear where they apply.",
    "properties": {
        "type": {"type": "string", "description": "a stable URI naming the kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {"type": "object", "description": "what is wrong, by field (names and rules, never the values sent)",
                   "additionalProperties": True},
        "consent": {"type": "string", "description": "the purpose whose consent is missing (consent-required)"},
        "field": {"type": "string", "description": "the field at fault"},
        "error": {"type": "string", "description": "RFC 6749's error code (the token endpoint)"},
    },
    "required": ["type", "title", "status"],
}


def build_spec(operations: Iterable[Operation], title: str, version: str) -> dict[str, Any]:
    spec = APISpec(
        title=title,
        version=version,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Dossier unique et consentements / single dossier and consent service."},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.security_scheme("clientBasic", {"type": "http", "scheme": "basic",
                                                    "description": "a service client's id and secret (client_secret_basic)"})
    spec.components.schema("Problem", PROBLEM)
    paths: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for op in operations:
        if not op.operation_id or op.operation_id in seen:
            raise ValueError(f"operationId {op.operation_id!r} of {op.method} {op.rule} is missing or not unique")
        seen.add(op.operation_id)
        path, parameters = _path(op.rule)
        operation: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": list(op.tags), "responses": {}}
        if op.description:
            operation["description"] = op.description
        if parameters:
            operation["parameters"] = parameters
        if op.query is not None:
            operation.setdefault("parameters", []).append({"in": "query", "schema": op.query})
        if op.body is not None or op.body_json_schema is not None:
            body = op.body_json_schema if op.body_json_schema is not None else op.body
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        operation.update(op.extra)
        success: dict[str, Any] = {"description": "OK"}
        if op.response_json_schema is not None:
            success["content"] = {op.media_type: {"schema": op.response_json_schema}}
        elif op.response is not None:
            success["content"] = {op.media_type: {"schema": op.response}}
        elif op.media_type != "application/json":
            success["content"] = {media_type: {"schema": {"type": "string", "format": "binary"} if media_type == "application/pdf"
                                               else {"type": "string"}} for media_type in (op.media_type, *op.also)}
        operation["responses"][str(op.status)] = success
        for status in sorted(_errors(op)):
            operation["responses"][str(status)] = {
                "description": _ERROR_TEXT.get(status, "Erreur / error"),
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
            }
        if not op.public:
            operation["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[op.method] = operation
    for path, operations_of_path in paths.items():
        spec.path(path=path, operations=operations_of_path)
    return spec.to_dict()


def _errors(op: Operation) -> set[int]:
    """Every error status the operation can answer: its own, and those of the common steps."""
    errors = set(op.errors)
    if not op.public:
        errors.add(401)  # no token, a bad one, or a closed account
    if op.body is not None:
        errors |= {400, 413, 415, 422}  # not JSON, too large, another media type, invalid fields
    if op.query is not None:
        errors.add(422)
    return errors


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    parameters = []
    for converter, name in _CONVERTER.findall(rule):
        schema = {"type": "string", "format": "uuid"} if converter == "uuid" else {"type": "string"}
        parameters.append({"in": "path", "name": name, "required": True, "schema": schema})
    return _CONVERTER.sub(r"{\2}", rule), parameters

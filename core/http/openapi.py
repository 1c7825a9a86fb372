"""The OpenAPI 3 document, generated from the declared operations and their marshmallow schemas."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from core.http.api import Operation

_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
_ERROR_TEXT = {
    400: "Requête mal formée", 401: "Jeton absent ou invalide", 403: "Accès refusé (ou consentement requis)",
    404: "Introuvable, ou aucun lien avec l'appelant", 409: "Conflit", 410: "Données effacées",
    415: "Le corps doit être du JSON", 422: "Données invalides",
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
    spec.components.schema(
        "Problem",
        {
            "type": "object",
            "properties": {k: {"type": "string"} for k in ("type", "title", "detail", "request_id")}
            | {"status": {"type": "integer"}},
            "required": ["type", "title", "status"],
        },
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path, parameters = _path(op.rule)
        operation: dict[str, Any] = {"summary": op.summary, "tags": list(op.tags), "responses": {}}
        if op.description:
            operation["description"] = op.description
        if parameters:
            operation["parameters"] = parameters
        if op.query is not None:
            operation.setdefault("parameters", []).append({"in": "query", "schema": op.query})
        if op.body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body}}}
        operation.update(op.extra)
        success: dict[str, Any] = {"description": "OK"}
        if op.response is not None:
            success["content"] = {op.media_type: {"schema": op.response}}
        operation["responses"][str(op.status) if op.status != 200 or op.response is not None else "200"] = success
        errors = set(op.errors) | ({401} if not op.public else set()) | ({422} if op.body or op.query else set())
        for status in sorted(errors):
            operation["responses"][str(status)] = {
                "description": _ERROR_TEXT.get(status, "Erreur"),
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
            }
        if not op.public:
            operation["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[op.method] = operation
    for path, operations_of_path in paths.items():
        spec.path(path=path, operations=operations_of_path)
    return spec.to_dict()


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    parameters = []
    for converter, name in _CONVERTER.findall(rule):
        schema = {"type": "string", "format": "uuid"} if converter == "uuid" else {"type": "string"}
        parameters.append({"in": "path", "name": name, "required": True, "schema": schema})
    return _CONVERTER.sub(r"{\2}", rule), parameters

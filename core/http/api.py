"""API operations: a route, its schemas and its access in one declaration.

``ApiBlueprint.operation`` registers a Flask view that authenticates the caller, parses the body
or query with a marshmallow schema (a bad one answers 422 and reaches no service), calls the
view function and answers JSON; the same declaration feeds the OpenAPI document.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, g, request
from marshmallow import Schema, ValidationError

from core.errors import DossierError, InvalidInput, Unauthenticated
from core.http.requestlog import current_request_id
from core.identity.accounts import actor_for_token, require_open_account
from core.identity.roles import Actor
from core.runtime import runtime

JSON = "application/json"


class UnsupportedMediaType(DossierError):
    slug, status = "unsupported-media-type", 415


class MalformedRequest(DossierError):
    slug, status = "malformed-request", 400


@dataclass(frozen=True)
class Attachment:
    """A result to be saved as a file by the client: dumped as usual, with ``Content-Disposition``."""

    value: Any
    filename: str


@dataclass
class Operation:
    """What the OpenAPI document says of one route."""

    rule: str
    method: str
    summary: str
    tags: tuple[str, ...]
    body: type[Schema] | None
    query: type[Schema] | None
    response: Schema | None
    status: int
    public: bool
    errors: tuple[int, ...]
    description: str = ""
    media_type: str = JSON
    extra: dict[str, Any] = field(default_factory=dict)
    # JSON Schemas given as data (a plugin's channel endpoint), when no marshmallow schema describes them.
    body_json_schema: dict[str, Any] | None = None
    response_json_schema: dict[str, Any] | None = None
    # Other media types a success may come in (a document as PDF, or as HTML).
    also: tuple[str, ...] = ()
    # Unique in the document: what generated clients name the method.
    operation_id: str = ""


class ApiBlueprint:
    """A Flask blueprint whose routes are declared as API operations."""

    def __init__(self, name: str, url_prefix: str = "") -> None:
        self.blueprint = Blueprint(name, __name__, url_prefix=url_prefix)
        self.url_prefix = url_prefix
        self.operations: list[Operation] = []

    def operation(
        self,
        rule: str,
        method: str = "GET",
        *,
        summary: str,
        tags: tuple[str, ...] = (),
        body: type[Schema] | None = None,
        query: type[Schema] | None = None,
        response: Schema | None = None,
        status: int = 200,
        public: bool = False,
        errors: tuple[int, ...] = (),
        body_required: bool = True,
        parse_body: bool = True,
        cache_seconds: int | None = None,
        text: str | None = None,
        json_schemas: tuple[dict[str, Any] | None, dict[str, Any] | None] = (None, None),
        also: tuple[str, ...] = (),
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare an API operation; a non-public one receives the caller as ``actor`` (``current_actor``).

        What the view returns is dumped with ``response``, the schema the OpenAPI document declares
        for it, so that the document and the bodies cannot drift apart; ``cache_seconds`` lets
        clients and proxies keep a public answer that long; ``text`` names the media type of a view
        that answers plain text (a ``str``) instead of JSON. With ``parse_body`` false, ``body`` is
        only documented: the view reads the raw request itself (a signed message is verified over
        its exact bytes before it is parsed). ``json_schemas`` documents the body and the success
        response with JSON Schemas given as data, where they win over ``body`` and ``response``.
        """
        body_schema = body() if body else None
        query_schema = query() if query else None

        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(function)
            def view(**path: Any) -> Response:
                kwargs: dict[str, Any] = {k: str(v) for k, v in path.items()}
                if not public:
                    kwargs["actor"] = current_actor()
                if body_schema is not None and parse_body:
                    kwargs["body"] = _load(body_schema, _json_body(default=None if body_required else {}))
                if query_schema is not None:
                    kwargs["query"] = _load(query_schema, request.args.to_dict())
                result = function(**kwargs)
                if isinstance(result, Response):
                    return result
                if text is not None:
                    return Response(result, status=status, mimetype=text, headers={"Cache-Control": "no-store"})
                if result is None:
                    return Response(status=204 if status == 200 else status)
                attachment = result if isinstance(result, Attachment) else None
                value = attachment.value if attachment else result
                answer = json_response(response.dump(value) if response is not None else value, status)
                if attachment is not None:
                    answer.headers["Content-Disposition"] = f'attachment; filename="{attachment.filename}"'
                if cache_seconds is not None:
                    answer.headers["Cache-Control"] = f"public, max-age={cache_seconds}"
                return answer

            self.blueprint.add_url_rule(rule, function.__name__, view, methods=[method])
            self.operations.append(
                Operation(
                    rule=self.url_prefix + rule,
                    method=method.lower(),
                    summary=summary,
                    tags=tags,
                    body=body,
                    query=query,
                    response=response,
                    status=status,
                    public=public,
                    errors=errors,
                    description=(function.__doc__ or "").strip(),
                    operation_id=function.__name__,
                    media_type=text or JSON,
                    body_json_schema=json_schemas[0],
                    response_json_schema=json_schemas[1],
                    also=also,
                )
            )
            return view

        return register


def json_response(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, separators=(",", ":")), status=status, mimetype=JSON)


# RFC 6750 section 2.1 (b64token); the scheme name is case-insensitive (RFC 9110 11.1).
_BEARER = re.compile(r"^Bearer +([A-Za-z0-9._~+/-]+=*)\Z", re.IGNORECASE)


def current_actor() -> Actor:
    """The caller of this request: its bearer token (RFC 6750) verified, and its account still open
    with the role and links the token names; 401 otherwise. The actor carries the request's id."""
    match = _BEARER.match(request.headers.get("Authorization", ""))
    if match is None:
        raise Unauthenticated()
    rt = runtime()
    actor = dataclasses.replace(actor_for_token(rt, match.group(1)), request_id=current_request_id())
    # NOTE: closing an account takes effect at once: every request checks it, whatever it does.
    require_open_account(rt, actor)
    g.actor = actor
    return actor


def _json_body(default: Any) -> Any:
    """The request's JSON body; ``default`` when it has none (empty, whatever the transfer coding)."""
    return parse_json(request.get_data(cache=False), request.mimetype, default)


def parse_json(raw: bytes, mimetype: str, default: Any = None) -> Any:
    """A request body of media type ``mimetype`` as JSON (RFC 8259: no NaN, no repeated key);
    ``default`` when it is empty; 415 or 400 otherwise."""
    if not raw.strip():
        return default
    if mimetype != JSON and not mimetype.endswith("+json"):
        raise UnsupportedMediaType("Le corps doit être du JSON / the body must be JSON (Content-Type: application/json).")
    try:
        return json.loads(raw, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedRequest("Le corps n'est pas du JSON valide / the body is not valid JSON.") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A repeated key could be read one way here and another way by a proxy or an auditor's tool.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _load(schema: Schema, data: Any) -> Any:
    if data is None:
        raise InvalidInput("Un corps JSON est requis / a JSON body is required.")
    try:
        return schema.load(data)
    except ValidationError as exc:
        errors = _without_unknown_keys(exc.normalized_messages())  # type: ignore[no-untyped-call]
        raise InvalidInput("Certains champs sont invalides / some fields are invalid.", errors=errors) from None


_UNKNOWN = ["Unknown field."]
# An unknown field is named in the error when its name can be nothing but a field name.
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}\Z")


def _without_unknown_keys(messages: Any) -> Any:
    """marshmallow's messages, without any key the caller chose that could carry a value.

    Messages name fields and rules, never values. An unknown field is named when its name is
    shaped like a field name (``nickname``: the caller's own word, repeated to the caller, leaks
    nothing); any other name (an e-mail address, a sentence) is counted, not repeated, and so is
    an entry of a free mapping (marshmallow reports those under the entry's own key).

    NOTE: an error never repeats a value that was sent (it could be personal data).
    """
    if not isinstance(messages, dict):
        return messages
    kept: dict[Any, Any] = {}
    named: list[str] = []
    unknown = entries = 0
    for key, value in messages.items():
        if value == _UNKNOWN:
            if isinstance(key, str) and _FIELD_NAME.match(key):
                named.append(key)
            else:
                unknown += 1
        elif isinstance(value, dict) and value and set(value) <= {"key", "value"}:
            entries += 1
        else:
            kept[key] = _without_unknown_keys(value)
    for key in sorted(named):
        kept[key] = ["Champ inconnu / unknown field."]
    if unknown:
        kept["_unknown_fields"] = [f"{unknown} champ(s) inconnu(s) au nom non affiché / unknown field(s), name not shown"]
    if entries:
        kept["_invalid_entries"] = [f"{entries} entrée(s) invalide(s) / invalid entries"]
    return kept

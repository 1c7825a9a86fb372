"""Inbound endpoints of channel integrations (``dossier_channel_endpoints``), served by the core.

A plugin declares endpoints; the core serves each at ``/api/v1/channels/<plugin>/<path>`` and, in
this order, before the plugin sees anything:

1. authenticates the caller: a service client whose token carries the scope ``channel:<plugin>``;
2. reads at most ``CHANNEL_MAX_BODY_BYTES`` of the raw body (413 beyond);
3. verifies its Standard Webhooks signature over those exact bytes with the client's webhook
   secret, within ``CHANNEL_TIMESTAMP_TOLERANCE`` seconds (400 ``invalid-signature`` otherwise);
4. parses it as one JSON object (400, 415 or 422 otherwise);
5. claims its idempotency key (``core.plugins.idempotency``): a copy already answered gets the
   same answer again with ``Idempotent-Replayed: true``, one still in flight 409, another body
   under the same key 422.

Then it calls the plugin's handler alone and isolated, with a ``ChannelContext`` through which the
handler records what arrived. The handler never sees a subject id, a secret or the database: it
names the seeker by an exact identifier, and the core looks it up. What it records is written once
it has returned a 2xx reply, in one transaction with the answer stored under the key, each record
decided, audited and sealed as any other; after a refusal (422), an error or a time-out, nothing is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from flask import Response, request
from marshmallow import INCLUDE, Schema, ValidationError

from core.crypto import standard_webhooks
from core.crypto.blind_index import IndexKind, blind_index
from core.dossier import service as dossier_service
from core.dossier import store
from core.dossier.schemas import ActivityInSchema, ContactInSchema
from core.errors import DossierError, Forbidden, InvalidInput, Refusal
from core.http.api import ApiBlueprint, json_response, parse_json
from core.http.problems import problem
from core.identity.clients import webhook_secrets
from core.identity.roles import Actor, Role
from core.models import new_id
from core.plugins import idempotency
from core.plugins.calls import Outcome
from core.plugins.gateway import PluginGateway
from core.plugins.registry import Plugin, PluginRefused
from core.policy import Action
from core.runtime import Runtime
from plugins.api import ChannelEndpoint, ChannelReply, InboundMessage, Revoked, frozen

PREFIX = "/api/v1/channels"
_PATH = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}(?:/[a-z0-9][a-z0-9_-]{0,62}){0,3}\Z")
_METHODS = {"POST", "PUT"}
# Headers a handler never receives: the caller's credentials.
_CREDENTIALS = frozenset({"authorization", "cookie", "proxy-authorization"})
# The Idempotency-Key header: a Structured Field string (RFC 8941), or, leniently, a bare token.
_SF_STRING = re.compile(r'^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\]){1,255})"\Z')
_BARE_KEY = re.compile(r"^[A-Za-z0-9._:~+/=-]{1,255}\Z")
# What the core answers itself when the seeker a handler found can no longer be recorded.
NO_MATCH = {"status": "no_match"}
REPLAYED_HEADER = "Idempotent-Replayed"


class PluginFailed(DossierError):
    """The plugin's handler raised, or answered something that is not a ChannelReply."""

    slug, status = "plugin-error", 502


class PluginTimedOut(PluginFailed):
    status = 504


class InvalidSignature(DossierError):
    slug, status = "invalid-signature", 400


class BadIdempotencyKey(DossierError):
    slug, status = "invalid-idempotency-key", 400


class PayloadTooLarge(DossierError):
    slug, status = "payload-too-large", 413


class MessageSchema(Schema):
    """Any JSON object: what it holds is the channel's own format, which its plugin checks."""

    class Meta:
        unknown = INCLUDE


_REFUSED = {
    "missing_headers": "Les en-têtes webhook-id, webhook-timestamp et webhook-signature sont requis / "
                       "the webhook-id, webhook-timestamp and webhook-signature headers are required.",
    "bad_message_id": "webhook-id: 1 à 200 caractères parmi A-Z a-z 0-9 . _ : ~ + / = - / "
                      "webhook-id: 1 to 200 characters among A-Z a-z 0-9 . _ : ~ + / = -.",
    "bad_timestamp": "webhook-timestamp doit être un nombre de secondes depuis 1970 / "
                     "webhook-timestamp must be seconds since 1970.",
    "timestamp_outside_tolerance": "webhook-timestamp est trop loin de l'heure du service (message rejoué ou horloge fausse) / "
                                   "webhook-timestamp is too far from the service's clock (a replay, or a wrong clock).",
    "no_valid_signature": "Aucune signature v1 valide pour ce client / no valid v1 signature for this client.",
}


@dataclass(frozen=True)
class _Intent:
    """A record a handler asked for, written once it has replied."""

    action: Action
    subject_id: str
    record_id: str
    values: dict[str, Any]


class Recorder:
    """What a channel endpoint's context records through (``core.plugins.context.ChannelRecorder``).

    It runs on the handler's thread: it checks the arguments, finds the seeker (a read) and keeps
    what is to be written; ``write`` writes it all, on the request's thread, once the handler has
    replied. After ``close`` (the handler's call is over, even one that overran) it refuses.
    """

    def __init__(self, rt: Runtime, plugins: PluginGateway, plugin: Plugin) -> None:
        self._rt, self._plugins, self._plugin = rt, plugins, plugin
        self._intents: list[_Intent] = []
        self._lock = threading.Lock()
        self._closed = False

    def record_contact(self, *, email: str | None, national_id: str | None, channel: str, occurred_at: datetime,
                       summary: str) -> str | None:
        values = _checked(ContactInSchema(), "contact", {"channel": channel, "summary": summary, "occurred_at": occurred_at})
        return self._keep(Action.CHANNEL_CONTACT_RECORD, email, national_id, values)

    def record_activity(self, *, email: str | None, national_id: str | None, kind: str, occurred_at: datetime,
                        description: str, organisation: str | None = None, channel: str | None = None) -> str | None:
        if kind != "application":
            raise ValueError("a channel records applications only (kind='application')")
        values = _checked(ActivityInSchema(), "activity", {"kind": kind, "description": description, "occurred_at": occurred_at,
                                                           "organisation": organisation, "channel": channel})
        return self._keep(Action.CHANNEL_ACTIVITY_RECORD, email, national_id, values)

    def close(self) -> None:
        with self._lock:
            self._closed = True

    @property
    def empty(self) -> bool:
        return not self._intents

    def write(self, conn: Any, client: Actor) -> None:
        """Decide, record and seal every kept record, in the caller's transaction."""
        for intent in self._intents:
            write = dossier_service.write_contact if intent.action is Action.CHANNEL_CONTACT_RECORD else dossier_service.write_activity
            write(self._rt, self._plugins, conn, client, intent.subject_id, intent.values, intent.action, intent.record_id)

    def _keep(self, action: Action, email: str | None, national_id: str | None, values: dict[str, Any]) -> str | None:
        if (email is None) == (national_id is None):
            raise ValueError("name the seeker by exactly one of email or national_id")
        kind, value = (IndexKind.EMAIL, email) if email is not None else (IndexKind.NATIONAL_ID, national_id)
        if not isinstance(value, str) or not 0 < len(value) <= 254:
            raise ValueError("email or national_id is a string of 1 to 254 characters")
        digest = blind_index(self._rt.keys.blind_index_key(), kind, value)
        with self._rt.engine.connect() as conn:
            matches = store.subjects_by_index(conn, kind, digest)
        if len(matches) != 1:
            return None  # nobody, or no one seeker: the channel learns nothing more
        record_id = new_id()
        with self._lock:
            if self._closed:
                raise Revoked("this context was for a call that has ended")
            self._intents.append(_Intent(action, matches[0], record_id, values))
        return self._plugins.record_ref(self._plugin.name, record_id)


def _checked(schema: Schema, what: str, data: dict[str, Any]) -> dict[str, Any]:
    occurred_at = data["occurred_at"]
    data = {**data, "occurred_at": occurred_at.isoformat() if isinstance(occurred_at, datetime) else None}
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        fields = sorted(exc.messages) if isinstance(exc.messages, dict) else []
        raise ValueError(f"invalid {what}: check {', '.join(fields)}") from None
    return loaded


def channel_api(rt: Runtime, plugins: PluginGateway) -> ApiBlueprint:
    """A blueprint serving every channel endpoint the running plugins declare."""
    api = ApiBlueprint("channels", url_prefix=PREFIX)
    for plugin, endpoint in plugins.channel_endpoints():
        _check(plugin, endpoint)
        for method in endpoint.methods:
            api.operation(f"/{plugin.name}/{endpoint.path}", method, summary=endpoint.summary, tags=("channels",),
                          body=MessageSchema, parse_body=False, status=endpoint.status,
                          json_schemas=(_schema(endpoint.body_schema), _schema(endpoint.reply_schema)),
                          errors=(400, 403, 409, 413, 415, 422, 502, 504))(_view(rt, plugins, plugin, endpoint, method))
    return api


def _plain(value: Any) -> Any:
    """JSON data made only of the built-in types, or TypeError."""
    if type(value) in (str, int, float, bool) or value is None:
        return value
    if type(value) in (list, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping) and type(value) in (dict, MappingProxyType):
        return {k: _plain(v) for k, v in value.items() if type(k) is str}
    raise TypeError("not JSON")


def _check(plugin: Plugin, endpoint: Any) -> None:
    if not isinstance(endpoint, ChannelEndpoint):
        raise PluginRefused(f"plugin {plugin.name}: dossier_channel_endpoints must return plugins.api.ChannelEndpoint items")
    if not isinstance(endpoint.path, str) or not _PATH.match(endpoint.path):
        raise PluginRefused(f"plugin {plugin.name}: endpoint path must match {_PATH.pattern}")
    if not endpoint.methods or not set(endpoint.methods) <= _METHODS or not callable(endpoint.handler):
        raise PluginRefused(f"plugin {plugin.name}: endpoint {endpoint.path} needs a handler and methods among POST, PUT")
    if type(endpoint.status) is not int or not 200 <= endpoint.status < 300:
        raise PluginRefused(f"plugin {plugin.name}: endpoint {endpoint.path}: status is a 2xx status")
    for schema in (endpoint.body_schema, endpoint.reply_schema):
        try:
            _schema(schema)
        except (TypeError, ValueError, RecursionError):
            raise PluginRefused(f"plugin {plugin.name}: endpoint {endpoint.path}: body_schema and reply_schema are "
                                "JSON Schemas as JSON data (or None)") from None


def _schema(schema: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A plugin's JSON Schema as plain JSON data, for the OpenAPI document."""
    if schema is None:
        return None
    plain = _plain(schema)
    if not isinstance(plain, dict):
        raise TypeError("a JSON Schema is an object")
    json.dumps(plain)
    return plain


def _view(rt: Runtime, plugins: PluginGateway, plugin: Plugin, endpoint: ChannelEndpoint, method: str) -> Any:
    scope = f"channel:{plugin.name}"
    label = f"channel:{endpoint.path}"

    def serve(actor: Actor) -> Response:
        # NOTE: only a service client registered for this plugin's channel reaches its handler.
        if actor.role is not Role.SERVICE or scope not in actor.scopes or not actor.client_id:
            raise Forbidden("Réservé aux clients de ce canal / for this channel's clients only.")
        raw = _raw_body(rt.settings.CHANNEL_MAX_BODY_BYTES)
        now = rt.clock()
        try:
            message_id = standard_webhooks.verify(request.headers, raw, webhook_secrets(rt, actor.client_id, now),
                                                  now=now.timestamp(), tolerance=rt.settings.CHANNEL_TIMESTAMP_TOLERANCE)
        except standard_webhooks.SignatureRefused as refused:
            raise InvalidSignature(_REFUSED[refused.reason], reason=refused.reason) from None
        body = parse_json(raw, request.mimetype)
        if not isinstance(body, dict):
            raise InvalidInput("Le corps doit être un objet JSON / the body must be a JSON object.")
        delivery = idempotency.Delivery(actor.client_id, _idempotency_key() or message_id, message_id, plugin.name,
                                        f"{method} {endpoint.path}", _request_mac(rt, raw))
        answered = idempotency.claim(rt, delivery, stale_after=_stale_after(rt))
        if answered is not None:
            return _answer(answered.status, answered.answer, replayed=True)
        try:
            status, answer, recorder = _handle(rt, plugins, plugin, endpoint, label, actor, raw, body, message_id)
            if status == 422:
                idempotency.release(rt, delivery)  # refused by the plugin: nothing recorded, the key is free
                return _answer(status, answer)
            return _record(rt, recorder, actor, delivery, status, answer)
        except BaseException:
            idempotency.release(rt, delivery)
            raise

    serve.__name__ = re.sub(r"\W", "_", f"{plugin.name}_{endpoint.path}_{method}".lower())
    return serve


def _handle(rt: Runtime, plugins: PluginGateway, plugin: Plugin, endpoint: ChannelEndpoint, label: str, actor: Actor,
            raw: bytes, body: dict[str, Any], message_id: str) -> tuple[int, str, Recorder]:
    """Run the handler; its reply's status, its body as JSON text, and what it asked to record."""
    headers = {name.lower(): value for name, value in request.headers.items() if name.lower() not in _CREDENTIALS}
    message = InboundMessage(actor.client_id or actor.account_id, frozen(body), raw, MappingProxyType(headers), message_id)
    recorder = Recorder(rt, plugins, plugin)
    try:
        result = plugins.serve_channel(plugin, endpoint, message, recorder)
    finally:
        recorder.close()
    if not result.ok:
        raise PluginTimedOut() if result.outcome in (Outcome.TIMEOUT, Outcome.BUSY) else PluginFailed()
    reply = result.value
    try:
        # Exact types: a subclass or an odd status would run the plugin's code here.
        if type(reply) is not ChannelReply or type(reply.status) is not int or reply.status not in (endpoint.status, 422):
            raise ValueError("not a ChannelReply with the endpoint's status or 422")
        return reply.status, json.dumps(_plain(reply.body), ensure_ascii=False, separators=(",", ":")), recorder
    except (TypeError, ValueError, RecursionError):
        plugins.incident(plugin.name, label, "invalid", "not a ChannelReply of JSON with the endpoint's status or 422")
        raise PluginFailed() from None


def _record(rt: Runtime, recorder: Recorder, actor: Actor, delivery: idempotency.Delivery, status: int,
            answer: str) -> Response:
    """Write what the handler recorded and store the answer under the key, in one transaction."""
    try:
        with rt.transaction() as conn:
            try:
                recorder.write(conn, actor)
            except Refusal:
                # The seeker found a moment ago was erased meanwhile: that refusal is recorded
                # (the unit of work commits it), and so is this answer, so a retry is not recorded.
                status, answer = 202, json.dumps(NO_MATCH)
                idempotency.complete(conn, delivery, status, answer, rt.clock())
                raise
            idempotency.complete(conn, delivery, status, answer, rt.clock())
    except Refusal:
        pass
    return _answer(status, answer)


def _answer(status: int, answer: str, replayed: bool = False) -> Response:
    """The handler's reply; a refusal (422) as problem details, with its ``detail`` and ``errors``."""
    body = json.loads(answer)
    if status >= 400:
        given = body if isinstance(body, dict) else {}
        detail, errors = given.get("detail"), given.get("errors")
        return problem("channel-message-refused", status, detail if isinstance(detail, str) else "",
                       errors=errors if isinstance(errors, dict) else None)
    response = json_response(body, status)
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response


def _raw_body(limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"Le message dépasse {limit} octets / the message is over {limit} bytes.")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(f"Le message dépasse {limit} octets / the message is over {limit} bytes.")
    return raw


def _idempotency_key() -> str | None:
    """The ``Idempotency-Key`` header's key, None without one, BadIdempotencyKey when malformed."""
    value = request.headers.get("Idempotency-Key")
    if value is None:
        return None
    value = value.strip()
    quoted = _SF_STRING.match(value)
    if quoted:
        return re.sub(r'\\(["\\])', r"\1", quoted.group(1))
    if _BARE_KEY.match(value):
        return value
    raise BadIdempotencyKey("Idempotency-Key: une chaîne de 1 à 255 caractères ASCII imprimables, entre guillemets / "
                            "Idempotency-Key: a quoted string of 1 to 255 printable ASCII characters.")


def _request_mac(rt: Runtime, raw: bytes) -> str:
    """A keyed hash of the body: it tells two messages apart without keeping what they said."""
    return hmac.new(rt.keys.webhook_key(), b"dossier/channel-message/v1|" + raw, hashlib.sha256).hexdigest()


def _stale_after(rt: Runtime) -> timedelta:
    """When a claim is left by a process that died: well after the longest a handler may take."""
    return timedelta(seconds=max(60.0, 4 * rt.settings.PLUGIN_TIMEOUT))

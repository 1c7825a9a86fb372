"""Inbound endpoints of channel integrations (``dossier_channel_endpoints``), served by the core.

A plugin declares endpoints; the core serves each at ``/api/v1/channels/<plugin>/<path>``,
authenticates the caller (a service client whose token carries the scope ``channel:<plugin>``),
parses the JSON body and calls the plugin's handler alone and isolated, with a ``ChannelContext``
through which it records what arrived. The handler never sees a subject id or the request: it
names the seeker by an exact identifier, and the core looks it up, decides, records and seals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from flask import Response
from marshmallow import INCLUDE, Schema, ValidationError

from core.crypto.blind_index import IndexKind, blind_index
from core.dossier import service as dossier_service
from core.dossier import store
from core.dossier.schemas import ContactInSchema
from core.errors import AccessRefused, DossierError, Forbidden, Gone
from core.http.api import ApiBlueprint, json_response
from core.identity.roles import Actor, Role
from core.plugins.calls import Outcome
from core.plugins.gateway import PluginGateway
from core.plugins.registry import Plugin, PluginRefused
from core.policy import Action
from core.runtime import Runtime
from plugins.api import ChannelEndpoint, ChannelReply, InboundMessage, frozen

PREFIX = "/api/v1/channels"
_PATH = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}(?:/[a-z0-9][a-z0-9_-]{0,62}){0,3}\Z")
_METHODS = {"POST", "PUT"}


class PluginFailed(DossierError):
    """The plugin's handler raised, or answered something that is not a ChannelReply."""

    slug, status = "plugin-error", 502


class PluginTimedOut(PluginFailed):
    status = 504


class MessageSchema(Schema):
    """Any JSON object: what it holds is the channel's own format, which its plugin checks."""

    class Meta:
        unknown = INCLUDE


def contact_recorder(rt: Runtime, plugins: PluginGateway, plugin: Plugin, client: Actor) -> Any:
    """What ``ChannelContext.record_contact`` does for ``client`` calling ``plugin``'s endpoint."""

    def record_contact(*, email: str | None, national_id: str | None, channel: str, occurred_at: datetime,
                       summary: str) -> str | None:
        if (email is None) == (national_id is None):
            raise ValueError("name the seeker by exactly one of email or national_id")
        try:
            contact = ContactInSchema().load({"channel": channel, "summary": summary,
                                              "occurred_at": occurred_at.isoformat() if isinstance(occurred_at, datetime) else None})
        except ValidationError as exc:
            fields = sorted(exc.messages) if isinstance(exc.messages, dict) else []
            raise ValueError(f"invalid contact: check {', '.join(fields)}") from None
        kind, value = (IndexKind.EMAIL, email) if email is not None else (IndexKind.NATIONAL_ID, national_id)
        digest = blind_index(rt.keys.blind_index_key(), kind, str(value))
        with rt.engine.connect() as conn:
            matches = store.subjects_by_index(conn, kind, digest)
        if len(matches) != 1:
            return None  # nobody, or no one seeker: the channel learns nothing more
        try:
            recorded = dossier_service.record_contact(rt, plugins, client, matches[0], contact, Action.CHANNEL_CONTACT_RECORD)
        except (AccessRefused, Gone):
            return None  # refused (and recorded as such), or erased
        return plugins.record_ref(plugin.name, recorded.id)

    return record_contact


def channel_api(rt: Runtime, plugins: PluginGateway) -> ApiBlueprint:
    """A blueprint serving every channel endpoint the running plugins declare."""
    api = ApiBlueprint("channels", url_prefix=PREFIX)
    for plugin, endpoint in plugins.channel_endpoints():
        _check(plugin, endpoint)
        for method in endpoint.methods:
            api.operation(f"/{plugin.name}/{endpoint.path}", method, summary=endpoint.summary, tags=("channels",),
                          body=MessageSchema, errors=(403, 502, 504))(_view(rt, plugins, plugin, endpoint, method))
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


def _view(rt: Runtime, plugins: PluginGateway, plugin: Plugin, endpoint: ChannelEndpoint, method: str) -> Any:
    scope = f"channel:{plugin.name}"
    label = f"channel:{endpoint.path}"

    def serve(actor: Actor, body: dict[str, Any]) -> Response:
        # NOTE: only a service client registered for this plugin's channel reaches its handler.
        if actor.role is not Role.SERVICE or scope not in actor.scopes:
            raise Forbidden("Réservé aux clients de ce canal / for this channel's clients only.")
        message = InboundMessage(actor.client_id or actor.account_id, frozen(body))
        result = plugins.serve_channel(plugin, endpoint, message, contact_recorder(rt, plugins, plugin, actor))
        if not result.ok:
            raise PluginTimedOut() if result.outcome in (Outcome.TIMEOUT, Outcome.BUSY) else PluginFailed()
        reply = result.value
        try:
            # Exact types: a subclass or an odd status would run the plugin's code here.
            if type(reply) is not ChannelReply or type(reply.status) is not int or not 200 <= reply.status < 500:
                raise ValueError("not a ChannelReply with a 2xx-4xx status")
            return json_response(_plain(reply.body), reply.status)
        except (TypeError, ValueError, RecursionError):
            plugins.incident(plugin.name, label, "invalid", "not a ChannelReply of JSON with a 2xx-4xx status")
            raise PluginFailed() from None

    serve.__name__ = re.sub(r"\W", "_", f"{plugin.name}_{endpoint.path}_{method}".lower())
    return serve

"""HTTP endpoints of the plugin register (admins and auditors)."""

from __future__ import annotations

from typing import Any

from core.http.api import ApiBlueprint
from core.identity.roles import Actor
from core.plugins import schemas, service
from core.plugins.gateway import plugin_gateway
from core.runtime import runtime

api = ApiBlueprint("plugins", url_prefix="/api/v1")
TAGS = ("plugins",)


@api.operation("/plugins", summary="Registre des plugins / plugin register", tags=TAGS,
               response=schemas.PluginSchema(many=True), errors=(403,))
def plugin_register(actor: Actor) -> list[service.PluginEntry]:
    """Each plugin's manifest (purposes, categories, events, what it stores), its source and health."""
    return service.register(runtime(), plugin_gateway(), actor)


@api.operation("/plugins/purges", summary="Purges demandées aux plugins / purges asked of plugins", tags=TAGS,
               query=schemas.PurgesQuerySchema, response=schemas.PurgeSchema(many=True), errors=(403,))
def plugin_purges(actor: Actor, query: dict[str, Any]) -> list[service.PurgeEntry]:
    """Unconfirmed purges first: each is retried by the background worker until the plugin confirms."""
    return service.purges(runtime(), actor, query["pending"])

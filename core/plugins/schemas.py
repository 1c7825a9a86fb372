"""Marshmallow schemas of the plugin register."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_dump

from core.http.fields import Integer, Text, without_nulls


class StoredDataSchema(Schema):
    name = Text()
    description = Text()
    per_subject = fields.Boolean()


class HealthSchema(Schema):
    incidents_last_7_days = Integer()
    last_incident_at = fields.DateTime(format="iso", allow_none=True)
    unconfirmed_purges = Integer()


class PluginSchema(Schema):
    name = Text()
    state = Text(metadata={"description": "enabled, not_enabled (installed, off by default) or blocked"})
    source = Text(metadata={"description": "built-in, or the entry point's distribution and version"})
    version = Text()
    description = Text()
    purposes = fields.List(Text())
    categories = fields.List(Text(), metadata={"description": "the data categories it reads"})
    events = fields.List(Text())
    stores = fields.List(fields.Nested(StoredDataSchema))
    purposes_brought = fields.List(Text())
    health = fields.Nested(HealthSchema)

    @post_dump
    def _only_what_is_known(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        # A plugin installed but off is listed by name, state and source only.
        return without_nulls(data)


class PurgesQuerySchema(Schema):
    pending = fields.Boolean(load_default=False, metadata={"description": "only the unconfirmed ones"})


class PurgeSchema(Schema):
    id = Text()
    plugin = Text()
    subject_id = Text()
    purpose = Text(allow_none=True)
    cause = Text(metadata={"description": "consent_withdrawn, consent_lapsed or subject_erased"})
    state = Text(metadata={"description": "pending or confirmed"})
    requested_at = fields.DateTime(format="iso")
    attempts = Integer()
    next_attempt_at = fields.DateTime(format="iso", allow_none=True)
    last_error = Text(allow_none=True, metadata={"description": "the kind of the last failure, never a message"})
    confirmed_at = fields.DateTime(format="iso", allow_none=True)
    items = Integer(allow_none=True)

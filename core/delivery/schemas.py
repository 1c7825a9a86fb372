"""Marshmallow schemas of alerts, alert preferences, deliveries and webhook endpoints."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.dossier.schemas import StrictSchema
from core.http.fields import Text

DIGESTS = ("none", "daily", "weekly")


class LabelsSchema(Schema):
    fr = Text()
    en = Text()


class AlertSchema(Schema):
    """An alert: what an employer sought, how many profiles matched, and when; never a candidate."""

    id = Text()
    kind = Text(metadata={"enum": ["employer_search", "digest"]})
    employer_id = Text(allow_none=True)
    search_id = Text(allow_none=True, metadata={"description": "the search (GET /api/v1/employers/{id}/searches/{search_id})"})
    created_at = fields.DateTime(format="iso")
    last_at = fields.DateTime(format="iso", metadata={"description": "the latest of the grouped searches"})
    occurrences = fields.Integer(metadata={"description": "how many similar searches this alert groups"})
    criteria = fields.Dict(metadata={"description": "what was sought: codes, and their labels in French and English"})
    match_count = fields.Integer(allow_none=True)
    no_match = fields.Boolean()
    read = fields.Boolean()
    read_at = fields.DateTime(format="iso", allow_none=True)
    title = fields.Nested(LabelsSchema)
    text = fields.Nested(LabelsSchema)
    link = Text()


class AlertsQuerySchema(StrictSchema):
    unread = fields.Boolean(load_default=None, metadata={"description": "only unread (true) or read (false) alerts"})
    employer = fields.UUID(load_default=None, data_key="employer", metadata={"description": "only this employer's"})
    no_match = fields.Boolean(load_default=None, metadata={"description": "only searches that found no one (true)"})
    kind = Text(load_default=None, validate=validate.OneOf(["employer_search", "digest"]))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 1_000_000))


class PreferencesSchema(Schema):
    email = Text(allow_none=True, metadata={"description": "the advisor's work e-mail address"})
    email_alerts = fields.Boolean(metadata={"description": "each alert also by e-mail"})
    digest = Text(metadata={"enum": list(DIGESTS), "description": "a digest by e-mail: none, daily or weekly"})


class PreferencesInSchema(StrictSchema):
    email = Text(allow_none=True, validate=validate.Length(3, 254))
    email_alerts = fields.Boolean()
    digest = Text(validate=validate.OneOf(DIGESTS))


class AttemptSchema(Schema):
    number = fields.Integer()
    started_at = fields.DateTime(format="iso")
    duration_ms = fields.Integer()
    succeeded = fields.Boolean()
    status_code = fields.Integer(allow_none=True)
    outcome = Text()


class DeliverySchema(Schema):
    id = Text(metadata={"description": "stable across attempts: the webhook-id, the e-mail's Message-ID"})
    alert_id = Text()
    channel = Text(metadata={"enum": ["email", "webhook"]})
    target = Text(metadata={"description": "the advisor's account (email) or the endpoint (webhook)"})
    event_type = Text()
    state = Text(metadata={"enum": ["pending", "delivered", "failed"]})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(format="iso")
    created_at = fields.DateTime(format="iso")
    finished_at = fields.DateTime(format="iso", allow_none=True)
    last_outcome = Text(allow_none=True)
    history = fields.List(fields.Nested(AttemptSchema))


class DeliveriesSchema(Schema):
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    deliveries = fields.List(fields.Nested(DeliverySchema))
    endpoints = fields.List(fields.Nested(lambda: EndpointSchema()))


class DeliveriesQuerySchema(StrictSchema):
    state = Text(load_default=None, validate=validate.OneOf(["pending", "delivered", "failed"]))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


class EndpointSchema(Schema):
    id = Text()
    url = Text()
    signing = Text(metadata={"enum": ["ed25519", "hmac"]})
    description = Text()
    created_at = fields.DateTime(format="iso")
    enabled = fields.Boolean()
    disabled_at = fields.DateTime(format="iso", allow_none=True)
    disabled_reason = Text(allow_none=True)

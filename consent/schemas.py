"""Marshmallow schemas of the consent API."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, post_dump, validate

from core.http.fields import Pattern, Text, without_nulls

CHANNELS = ("web", "in_person", "call_centre")
# Purpose names are dotted lower-case words (consent.purposes.Purpose, plugin purposes alike).
PURPOSE_NAME = Pattern(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class NoticeTextSchema(Schema):
    fr = fields.String()
    en = fields.String()


class PurposeSchema(Schema):
    purpose = fields.String()
    legal_basis = fields.String(metadata={"enum": ["consent", "legal_obligation", "public_task"]})
    categories = fields.List(fields.String())
    recipients = fields.List(fields.String())
    retention_days = fields.Integer()
    notice_version = fields.Integer()
    notice_material = fields.Boolean()
    notice_sha256 = fields.String()
    notice = fields.Nested(NoticeTextSchema)
    seeker_controlled = fields.Boolean()


class ConsentStateSchema(Schema):
    purpose = fields.String()
    state = fields.String(metadata={"enum": ["granted", "withdrawn", "expired", "never"]})
    granted_at = fields.DateTime(format="iso", allow_none=True)
    withdrawn_at = fields.DateTime(format="iso", allow_none=True)
    expires_at = fields.DateTime(format="iso", allow_none=True)
    notice_version = fields.Integer(allow_none=True)
    current_notice_version = fields.Integer()
    reconsent_required = fields.Boolean()
    receipt_id = fields.String(allow_none=True)
    channel = fields.String(allow_none=True)


class GrantSchema(Schema):
    class Meta:
        unknown = RAISE

    purpose = Text(required=True, validate=PURPOSE_NAME)
    notice_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    channel = fields.String(load_default="web", validate=validate.OneOf(CHANNELS))
    expires_at = fields.AwareDateTime(load_default=None, allow_none=True, format="iso")


class WithdrawQuerySchema(Schema):
    channel = fields.String(load_default="web", validate=validate.OneOf(CHANNELS))


class PublicationSchema(Schema):
    class Meta:
        unknown = RAISE

    notice_versions = fields.Dict(keys=Text(validate=PURPOSE_NAME), values=fields.Integer(strict=True),
                                  load_default=None)
    channel = fields.String(load_default="web", validate=validate.OneOf(CHANNELS))


class ControllerSchema(Schema):
    name = fields.String()
    contact = fields.String()


class ReceiptNoticeSchema(Schema):
    version = fields.Integer()
    sha256 = fields.String(metadata={"description": "SHA-256 of the notice's exact texts (hex)"})


class RecordedBySchema(Schema):
    role = fields.String()
    account = fields.String()


class ReceiptSchema(Schema):
    """A consent receipt (ISO/IEC 27560 and Kantara consent-receipt fields) and its signature."""

    receipt_id = fields.String()
    version = fields.String(metadata={"description": "dossier-consent-receipt/1"})
    timestamp = fields.DateTime(format="iso")
    jurisdiction = fields.String()
    controller = fields.Nested(ControllerSchema)
    subject_ref = fields.String()
    purpose = fields.String()
    categories = fields.List(fields.String())
    recipients = fields.List(fields.String())
    legal_basis = fields.String()
    retention_days = fields.Integer()
    notice = fields.Nested(ReceiptNoticeSchema)
    state = fields.String(metadata={"enum": ["granted", "withdrawn"]})
    expires_at = fields.DateTime(format="iso", allow_none=True)
    collection_method = fields.String(metadata={"enum": list(CHANNELS)})
    recorded_by = fields.Nested(RecordedBySchema)
    jws = fields.String(metadata={"description": "compact JWS of the receipt, key in /.well-known/jwks.json"})
    contact_request = fields.String(metadata={"description": "employer.contact only: the contact request it answers"})

    @post_dump
    def _without_nulls(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return without_nulls(data, ("contact_request",))


class ReceiptListItemSchema(Schema):
    receipt_id = fields.String()
    purpose = fields.String()
    state = fields.String()
    timestamp = fields.DateTime(format="iso")
    jws = fields.String()

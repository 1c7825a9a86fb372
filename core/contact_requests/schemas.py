"""Marshmallow schemas of contact requests."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_dump, validate

from consent.schemas import ReceiptSchema
from core.dossier.schemas import StrictSchema
from core.http.fields import Pattern, Text, without_nulls


class ContactRequestInSchema(StrictSchema):
    candidate_ref = Text(required=True, validate=Pattern(r"^[0-9a-f]{32}$"),
                         metadata={"description": "a candidate_ref one of your searches showed"})
    message = Text(required=True, validate=validate.Length(1, 2000))


class ContactDetailsSchema(Schema):
    email = Text(allow_none=True)
    phone = Text(allow_none=True)


class ContactRequestSchema(Schema):
    """A request. ``message`` where the reader may read it; ``name`` and ``contact`` only for the
    employer's users, once the seeker accepted and while that stands."""

    id = Text()
    employer_id = Text()
    employer_name = Text()
    candidate_ref = Text()
    state = Text(metadata={"enum": ["pending", "accepted", "refused", "withdrawn", "expired"]})
    created_at = fields.DateTime(format="iso")
    expires_at = fields.DateTime(format="iso")
    decided_at = fields.DateTime(format="iso", allow_none=True)
    message = Text()
    receipt_id = Text(allow_none=True, metadata={"description": "the receipt of the consent given by accepting"})
    name = Text()
    contact = fields.Nested(ContactDetailsSchema)

    @post_dump
    def _without_nulls(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return without_nulls(data, ("message", "name", "contact"))


class SeekerContactRequestSchema(ContactRequestSchema):
    """The seeker's view: the employer's name and message; never the employer's ref for them."""

    class Meta:
        exclude = ("candidate_ref", "name", "contact")


class DecidedSchema(Schema):
    request = fields.Nested(SeekerContactRequestSchema)
    receipt = fields.Nested(ReceiptSchema, allow_none=True)

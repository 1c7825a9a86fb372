"""What the evidence endpoints read and answer."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.dossier.schemas import StrictSchema
from core.http.fields import Text

_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


class EvidenceQuerySchema(StrictSchema):
    """``from`` and ``to`` (dates, included), ``entries`` (activity ids, comma-separated: only those),
    ``format`` (``pdf`` or ``html``; else the ``Accept`` header decides, PDF by default)."""

    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)
    entries = Text(validate=validate.Length(1, 20_000))
    format = Text(validate=validate.OneOf(["pdf", "html"]))

    @validates_schema
    def _entries_are_ids(self, data: dict[str, Any], **_: Any) -> None:
        if "entries" in data and not all(_ID.match(e) for e in data["entries"].split(",")):
            raise ValidationError("Des identifiants de démarches séparés par des virgules / activity ids, comma-separated.",
                                  "entries")


class PeriodSchema(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()


class VerificationSchema(Schema):
    authentic = fields.Boolean(required=True)
    reason = Text(allow_none=True, metadata={"description": "why not: unknown_document (altered, or not issued here) or "
                                                            "bad_signature"})
    evidence_id = Text(allow_none=True)
    code = Text(allow_none=True)
    issued_at = Text(allow_none=True)
    period = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)
    entries = fields.Integer(allow_none=True, metadata={"description": "how many entries the document lists"})
    media_type = Text(allow_none=True)


class CodeLookupSchema(Schema):
    code = Text(required=True)
    documents = fields.List(fields.Nested(VerificationSchema), required=True)

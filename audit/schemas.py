"""Marshmallow schemas of the audit API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.http.fields import Hex, Integer, Pattern, Text

UUID = Pattern(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class EntriesQuerySchema(Schema):
    subject = Text(load_default=None, validate=UUID)
    actor = Text(load_default=None, validate=UUID)
    decision = Text(load_default=None, validate=validate.OneOf(["allow", "deny"]))
    since = fields.AwareDateTime(load_default=None, format="iso")
    until = fields.AwareDateTime(load_default=None, format="iso")
    after = fields.Integer(load_default=None, validate=validate.Range(min=-1), metadata={"description": "leaf_index cursor"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class InclusionQuerySchema(Schema):
    leaf_index = fields.Integer(required=True, validate=validate.Range(min=0))
    tree_size = fields.Integer(required=True, validate=validate.Range(min=1))


class ConsistencyQuerySchema(Schema):
    first = fields.Integer(required=True, validate=validate.Range(min=1))
    second = fields.Integer(required=True, validate=validate.Range(min=1))


class CheckpointSchema(Schema):
    tree_size = Integer()
    root_hash = Hex()
    timestamp = fields.DateTime(format="iso")
    jws = Text(metadata={"description": "compact JWS of {tree_size, root_hash, timestamp}; key in the JWKS"})
    note = Text(allow_none=True, metadata={"description": "the same checkpoint as a C2SP signed note (tlog-checkpoint), with cosignatures"})


class ActorSchema(Schema):
    id = Text(allow_none=True)
    role = Text(allow_none=True)
    client = Text(allow_none=True)


class EntrySchema(Schema):
    leaf_index = Integer()
    leaf_hash = Hex()
    v = Integer()
    at = fields.DateTime(format="iso")
    actor = fields.Nested(ActorSchema)
    subject = Text(allow_none=True)
    action = Text()
    purposes = fields.List(Text())
    categories = fields.List(Text())
    decision = Text()
    reason = Text()
    request_id = Text(allow_none=True)


class EntriesPageSchema(Schema):
    entries = fields.List(fields.Nested(EntrySchema))
    next_after = Integer(allow_none=True)


class InclusionProofSchema(Schema):
    leaf_index = Integer()
    tree_size = Integer()
    hashes = fields.List(Hex())


class ConsistencyProofSchema(Schema):
    first = Integer()
    second = Integer()
    hashes = fields.List(Hex())


class AccessLogItemSchema(Schema):
    at = fields.DateTime(format="iso")
    actor_role = Text()
    actor = Text(allow_none=True)
    action = Text()
    purpose = Text(allow_none=True)
    purposes = fields.List(Text())
    categories = fields.List(Text())
    decision = Text()
    reason = Text()
    leaf_index = Integer()
    leaf = Text(metadata={"description": "the entry's exact bytes, hashed into the tree as SHA-256(0x00 || leaf)"})
    inclusion = fields.List(Hex(), metadata={"description": "RFC 9162 inclusion path of the leaf in the checkpoint's tree"})


class AccessLogSchema(Schema):
    format = Text(metadata={"description": "dossier-access-log/1"})
    subject = Text()
    request_id = Text(allow_none=True, metadata={"description": "the request whose own entry the list must contain"})
    entries = fields.List(fields.Nested(AccessLogItemSchema))
    checkpoint = fields.Nested(CheckpointSchema)

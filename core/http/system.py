"""Service endpoints: health, readiness, public keys, the OpenAPI document, the caller, sign-in."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import Schema, fields, post_dump, validate
from sqlalchemy import text

from core.errors import DossierError
from core.identity.signing import KeyUse
from core.http.api import ApiBlueprint, json_response
from core.http.fields import Text, without_nulls
from core.identity.accounts import AccountInfo, account_info, sign_in
from core.identity.roles import Actor
from core.runtime import runtime

api = ApiBlueprint("system")


class Unavailable(DossierError):
    slug, status = "unavailable", 503


class StatusSchema(Schema):
    status = fields.String()


class MeSchema(Schema):
    """A seeker's account names their subject, an employer user's their employer; the others neither."""

    id = fields.String()
    username = fields.String()
    role = fields.String(metadata={"enum": ["seeker", "advisor", "employer", "auditor", "admin", "service"]})
    subject_id = fields.String()
    employer_id = fields.String()

    @post_dump
    def _absent_when_unlinked(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return without_nulls(data, ("subject_id", "employer_id"))


class LoginSchema(Schema):
    username = Text(required=True, validate=validate.Length(1, 150))
    password = Text(required=True, validate=validate.Length(1, 1024))


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()


@api.operation("/healthz", summary="Le processus répond / the process is up", tags=("service",), public=True, response=StatusSchema())
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@api.operation("/readyz", summary="Base de données et clés disponibles / database and keys answer", tags=("service",), public=True,
               response=StatusSchema(), errors=(503,))
def readyz() -> dict[str, str]:
    rt = runtime()
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        rt.keys.ping()
    except Exception as exc:
        raise Unavailable("La base de données ou le fournisseur de clés ne répond pas.") from exc
    return {"status": "ready"}


class JwkSchema(Schema):
    """An Ed25519 public key (RFC 8037) with what it verifies."""

    kty = fields.String(metadata={"enum": ["OKP"]})
    crv = fields.String(metadata={"enum": ["Ed25519"]})
    x = fields.String()
    kid = fields.String()
    use = fields.String(metadata={"enum": ["sig"]})
    alg = fields.String()
    key_ops = fields.List(fields.String())
    dossier_use = fields.String(metadata={"enum": [use.value for use in KeyUse],
                                          "description": "what this instance signs with it, or signed with it before its retirement"})
    dossier_status = fields.String(metadata={"enum": ["active", "retired"],
                                             "description": "retired: it signs nothing any more; receipts, checkpoints and "
                                                            "evidence documents it signed still verify, tokens do not"})
    retired_at = fields.String(metadata={"format": "date-time", "description": "when a retired key was retired (absent otherwise)"})


class JwksSchema(Schema):
    keys = fields.List(fields.Nested(JwkSchema))


@api.operation("/.well-known/jwks.json", summary="Clés publiques (JWKS) / public keys", tags=("service",), public=True,
               response=JwksSchema(), cache_seconds=300)
def jwks() -> dict[str, Any]:
    return runtime().signing.jwks()


@api.operation("/api/v1/openapi.json", summary="Document OpenAPI 3 de cette API", tags=("service",), public=True)
def openapi() -> Any:
    return json_response(current_app.extensions["dossier.openapi"]())


@api.operation("/api/v1/me", summary="Le compte appelant / the calling account", tags=("accounts",), response=MeSchema())
def me(actor: Actor) -> AccountInfo:
    return account_info(runtime(), actor.account_id)


@api.operation("/api/v1/auth/token", "POST", summary="Connexion d'un compte local / sign in with a local account",
               tags=("accounts",), body=LoginSchema, response=TokenSchema(), public=True, errors=(401,))
def token(body: dict[str, str]) -> dict[str, Any]:
    """Built-in identity provider: exchanges a local account's password for an access token."""
    access_token, ttl = sign_in(runtime(), body["username"], body["password"])
    return {"access_token": access_token, "token_type": "Bearer", "expires_in": ttl}

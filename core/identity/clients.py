"""Service clients: channel integrations and plugin workers, authenticated by OAuth2 client
credentials (RFC 6749 section 4.4) and limited to the scopes they were registered for.

A client is an account of role ``service`` whose id is its ``client_id``; its secret is shown once
at creation and stored as an argon2 hash. ``POST /api/v1/oauth/token`` (authlib's authorization
server, the client credentials grant only) exchanges the credentials for an RFC 9068 access token
whose ``scope`` is what the client asked for within what it may have. Disabling the client ends
its tokens at once (every request checks the account).
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from flask import Flask, Response
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from core.errors import Conflict, InvalidInput, NotFound
from core.http.api import Operation
from core.http.problems import problem
from core.identity.passwords import hash_password, verify_password
from core.identity.roles import Role
from core.models import accounts, iso_utc, new_id
from core.runtime import Runtime, runtime

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,149}\Z")
# The scopes a client may be given: a channel integration's endpoints (channel:<plugin>).
SCOPE = re.compile(r"^channel:[a-z][a-z0-9_]{1,62}\Z")


def create_client(rt: Runtime, name: str, scopes: list[str]) -> dict[str, Any]:
    """Register a client; the returned ``client_secret`` is shown this once and never stored in clear."""
    if not NAME.match(name):
        raise InvalidInput("Nom de client invalide: 2 à 150 caractères parmi a-z 0-9 . _ -.", field="name")
    bad = [s for s in scopes if not SCOPE.match(s)]
    if not scopes or bad:
        raise InvalidInput("Portées connues: channel:<plugin> / known scopes: channel:<plugin>.", field="scope")
    client_id, secret = new_id(), secrets.token_urlsafe(32)
    scope = " ".join(sorted(set(scopes)))
    try:
        with rt.transaction() as conn:
            conn.execute(insert(accounts).values(id=client_id, username=name, role=Role.SERVICE.value,
                                                 password_hash=hash_password(secret), scopes=scope, created_at=rt.clock()))
    except IntegrityError:
        raise Conflict("Ce nom est déjà pris / this name is taken.", field="name") from None
    return {"client_id": client_id, "name": name, "scopes": scope.split(), "client_secret": secret}


def list_clients(rt: Runtime) -> list[dict[str, Any]]:
    with rt.engine.connect() as conn:
        rows = conn.execute(select(accounts).where(accounts.c.role == Role.SERVICE.value).order_by(accounts.c.username)).all()
    return [{"client_id": r.id, "name": r.username, "scopes": (r.scopes or "").split(), "created_at": iso_utc(r.created_at),
             "disabled_at": iso_utc(r.disabled_at) if r.disabled_at else None} for r in rows]


def disable_client(rt: Runtime, name: str) -> dict[str, Any]:
    with rt.transaction() as conn:
        done = conn.execute(update(accounts).where(accounts.c.username == name, accounts.c.role == Role.SERVICE.value,
                                                   accounts.c.disabled_at.is_(None)).values(disabled_at=rt.clock()))
    if not done.rowcount:
        raise NotFound("Aucun client actif de ce nom / no active client of that name.")
    return {"name": name, "disabled": True}


class _Client(ClientMixin):  # type: ignore[misc]
    """A registered client as authlib's authorization server asks about it."""

    def __init__(self, client_id: str, secret_hash: str | None, scopes: str) -> None:
        self.client_id, self._secret_hash, self._scopes = client_id, secret_hash, scopes.split()

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return verify_password(self._secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope: str | None) -> str:
        # No scope asked for: everything the client may have (RFC 6749 section 3.3 lets us choose).
        if not scope:
            return " ".join(self._scopes)
        return " ".join(s for s in scope.split() if s in self._scopes)

    def get_default_redirect_uri(self) -> None:
        return None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_response_type(self, response_type: str) -> bool:
        return False


def _query_client(client_id: str) -> _Client | None:
    with runtime().engine.connect() as conn:
        row = conn.execute(select(accounts.c.id, accounts.c.password_hash, accounts.c.scopes).where(
            accounts.c.id == client_id, accounts.c.role == Role.SERVICE.value, accounts.c.disabled_at.is_(None))).first()
    if row is None:
        # authlib spends no hashing on an unknown client; spend one, so that timing reveals nothing.
        verify_password(None, "")
        return None
    return _Client(row.id, row.password_hash, row.scopes or "")


def _token(grant_type: str, client: _Client, user: Any = None, scope: str | None = None, expires_in: int | None = None,
           include_refresh_token: bool = True) -> dict[str, Any]:
    # authlib hands over the scope as requested: it is narrowed here to what the client may have.
    allowed = client.get_allowed_scope(scope)
    if not allowed:
        raise InvalidScopeError()
    rt = runtime()
    ttl = rt.settings.TOKEN_TTL
    access_token = rt.tokens.issue(client.client_id, Role.SERVICE.value, client_id=client.client_id, ttl=ttl, scope=allowed)
    return {"access_token": access_token, "token_type": "Bearer", "expires_in": ttl, "scope": allowed}


class _ClientCredentials(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


TOKEN_PATH = "/api/v1/oauth/token"


def register_token_endpoint(app: Flask) -> None:
    """``POST /api/v1/oauth/token`` for ``app``: the client credentials grant, nothing else."""
    server = AuthorizationServer(app, query_client=_query_client, save_token=lambda token, request: None)
    server.register_grant(_ClientCredentials)
    server.register_token_generator("client_credentials", _token)

    def token_endpoint() -> Response:
        response: Response = server.create_token_response()
        if response.status_code < 400:
            return response
        # RFC 6749 section 5.2's members (what OAuth clients read) inside our problem+json body.
        body = json.loads(response.get_data(as_text=True) or "{}")
        error = str(body.get("error", "invalid_request"))
        failed = problem("oauth-error", response.status_code, _ERRORS.get(error, _ERRORS["invalid_request"]), error=error)
        if response.status_code == 401:
            failed.headers["WWW-Authenticate"] = 'Basic realm="dossier"'
        return failed

    app.add_url_rule(TOKEN_PATH, "oauth_token", token_endpoint, methods=["POST"])


_ERRORS = {
    "invalid_request": "La demande de jeton est incomplète / the token request is incomplete.",
    "invalid_client": "Client inconnu ou secret incorrect / unknown client or wrong secret.",
    "unsupported_grant_type": "Seul client_credentials est accepté / only client_credentials is accepted.",
    "unauthorized_client": "Ce client ne peut pas utiliser ce type d'autorisation / grant not allowed for this client.",
    "invalid_scope": "Portée non accordée à ce client / scope not granted to this client.",
}


# What the OpenAPI document says of the token endpoint (it is not a JSON operation).
TOKEN_OPERATION = Operation(
    rule=TOKEN_PATH, method="post", summary="Jeton d'un client de service (OAuth2) / service client token", tags=("accounts",),
    body=None, query=None, response=None, status=200, public=True, errors=(400, 401),
    description="RFC 6749 section 4.4 (client credentials). Form-encoded `grant_type=client_credentials` and an "
                "optional `scope`; the client authenticates with HTTP Basic (client_secret_basic) or `client_id` and "
                "`client_secret` in the form (client_secret_post). Errors carry RFC 6749's `error` member.",
    extra={"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "required": ["grant_type"],
        "properties": {"grant_type": {"type": "string", "enum": ["client_credentials"]}, "scope": {"type": "string"},
                       "client_id": {"type": "string"}, "client_secret": {"type": "string"}}}}}}},
)

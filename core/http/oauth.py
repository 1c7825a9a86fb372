"""``POST /api/v1/oauth/token``: service clients' OAuth2 client credentials grant (RFC 6749 section 4.4).

authlib's authorization server, with the client credentials grant only: a registered client
(``core.identity.clients``) authenticates with HTTP Basic (client_secret_basic) or in the form
(client_secret_post) and receives an RFC 9068 access token whose ``scope`` is what it asked for
within what it may have. Errors are problem+json carrying RFC 6749's ``error`` member.
"""

from __future__ import annotations

import json
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from flask import Flask, Response
from marshmallow import Schema, fields

from core.http.api import Operation
from core.http.problems import problem
from core.identity.clients import ClientCredentials, check_secret, open_client
from core.identity.roles import Role
from core.runtime import runtime


class _Client(ClientMixin):  # type: ignore[misc]
    """A registered client as authlib's authorization server asks about it."""

    def __init__(self, credentials: ClientCredentials) -> None:
        self.client_id, self._credentials, self._scopes = credentials.client_id, credentials, credentials.scopes

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return check_secret(self._credentials, client_secret)

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
    # authlib spends no hashing on an unknown client; open_client spends one, so timing reveals nothing.
    credentials = open_client(runtime(), client_id)
    return _Client(credentials) if credentials else None


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
class OAuthTokenSchema(Schema):
    """RFC 6749 section 5.1."""

    access_token = fields.String(metadata={"description": "an RFC 9068 access token (JWT)"})
    token_type = fields.String(metadata={"enum": ["Bearer"]})
    expires_in = fields.Integer()
    scope = fields.String(metadata={"description": "the scopes granted, space-separated"})


TOKEN_OPERATION = Operation(
    rule=TOKEN_PATH, method="post", summary="Jeton d'un client de service (OAuth2) / service client token", tags=("accounts",),
    body=None, query=None, response=OAuthTokenSchema(), status=200, public=True, errors=(400, 401, 413),
    operation_id="oauth_token",
    description="RFC 6749 section 4.4 (client credentials). Form-encoded `grant_type=client_credentials` and an "
                "optional `scope`; the client authenticates with HTTP Basic (client_secret_basic) or `client_id` and "
                "`client_secret` in the form (client_secret_post). Errors carry RFC 6749's `error` member.",
    extra={"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "required": ["grant_type"],
        "properties": {"grant_type": {"type": "string", "enum": ["client_credentials"]}, "scope": {"type": "string"},
                       "client_id": {"type": "string"}, "client_secret": {"type": "string"}}}}}},
           # HTTP Basic (client_secret_basic), or the credentials in the form (client_secret_post).
           "security": [{"clientBasic": []}, {}]},
)

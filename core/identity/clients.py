"""Service clients: channel integrations and plugin workers, authenticated by OAuth2 client
credentials (RFC 6749 section 4.4) and limited to the scopes they were registered for.

A client is an account of role ``service`` whose id is its ``client_id``; its secret is shown once
at creation and stored as an argon2 hash. ``POST /api/v1/oauth/token`` (``core.http.oauth``)
exchanges the credentials for an RFC 9068 access token whose ``scope`` is what the client asked
for within what it may have. Disabling the client ends its tokens at once (every request checks
the account).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from core.errors import Conflict, InvalidInput, NotFound
from core.identity import store
from core.identity.passwords import hash_password, verify_password
from core.identity.roles import Role
from core.models import iso_utc, new_id
from core.runtime import Runtime

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
            store.insert_account(conn, id=client_id, username=name, role=Role.SERVICE.value, password_hash=hash_password(secret),
                                 scopes=scope, created_at=rt.clock())
    except IntegrityError:
        raise Conflict("Ce nom est déjà pris / this name is taken.", field="name") from None
    return {"client_id": client_id, "name": name, "scopes": scope.split(), "client_secret": secret}


def list_clients(rt: Runtime) -> list[dict[str, Any]]:
    with rt.engine.connect() as conn:
        rows = store.service_clients(conn)
    return [{"client_id": r.id, "name": r.username, "scopes": (r.scopes or "").split(), "created_at": iso_utc(r.created_at),
             "disabled_at": iso_utc(r.disabled_at) if r.disabled_at else None} for r in rows]


def disable_client(rt: Runtime, name: str) -> dict[str, Any]:
    with rt.transaction() as conn:
        done = store.disable_service_client(conn, name, rt.clock())
    if not done:
        raise NotFound("Aucun client actif de ce nom / no active client of that name.")
    return {"name": name, "disabled": True}


@dataclass(frozen=True)
class ClientCredentials:
    """What the token endpoint needs to know of an open client."""

    client_id: str
    secret_hash: str | None
    scopes: tuple[str, ...]


def open_client(rt: Runtime, client_id: str) -> ClientCredentials | None:
    """The open service client ``client_id``, or None. An unknown client costs one argon2
    verification too (``check_secret`` with no hash), so that timing reveals nothing."""
    with rt.engine.connect() as conn:
        row = store.open_service_client(conn, client_id)
    if row is None:
        verify_password(None, "")
        return None
    return ClientCredentials(row.id, row.password_hash, tuple((row.scopes or "").split()))


def check_secret(client: ClientCredentials, secret: str) -> bool:
    return verify_password(client.secret_hash, secret)

"""Service clients: channel integrations and plugin workers, authenticated by OAuth2 client
credentials (RFC 6749 section 4.4) and limited to the scopes they were registered for.

A client is an account of role ``service`` whose id is its ``client_id``; its secret is shown once
at creation and stored as an argon2 hash. ``POST /api/v1/oauth/token`` (``core.http.oauth``)
exchanges the credentials for an RFC 9068 access token whose ``scope`` is what the client asked
for within what it may have. Disabling the client ends its tokens at once (every request checks
the account).

A client also holds a webhook secret (``whsec_...``, shown once too), with which it signs every
message it sends a channel endpoint (Standard Webhooks, ``core.crypto.standard_webhooks``). The
secret is derived from the keyring's webhook key and the client's secret generation, so nothing
secret is in the database; a new generation leaves the previous one valid for ``SECRET_OVERLAP``,
while the sender changes its configuration.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from core.crypto.standard_webhooks import derive_secret, secret_text
from core.errors import Conflict, InvalidInput, NotFound
from core.identity import store
from core.identity.passwords import hash_password, verify_password
from core.identity.roles import Role
from core.models import as_utc, iso_utc, new_id
from core.runtime import Runtime

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,149}\Z")
# The scopes a client may be given: a channel integration's endpoints (channel:<plugin>).
SCOPE = re.compile(r"^channel:[a-z][a-z0-9_]{1,62}\Z")
SECRET_OVERLAP = timedelta(hours=24)
_SECRET_LABEL = "channel-secret"


def create_client(rt: Runtime, name: str, scopes: list[str]) -> dict[str, Any]:
    """Register a client; the returned ``client_secret`` and ``webhook_secret`` are shown this once
    and never stored (the first as an argon2 hash, the second not at all: it is derived)."""
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
                                 scopes=scope, created_at=rt.clock(), webhook_generation=1)
    except IntegrityError:
        raise Conflict("Ce nom est déjà pris / this name is taken.", field="name") from None
    return {"client_id": client_id, "name": name, "scopes": scope.split(), "client_secret": secret,
            "webhook_secret": secret_text(_webhook_secret(rt, client_id, 1))}


def rotate_webhook_secret(rt: Runtime, name: str) -> dict[str, Any]:
    """A new webhook secret for the open client ``name``, shown this once; the previous one still
    verifies for ``SECRET_OVERLAP``."""
    with rt.transaction() as conn:
        row = store.open_account_named(conn, name)
        if row is None or row.role != Role.SERVICE.value:
            raise NotFound("Aucun client actif de ce nom / no active client of that name.")
        generation = (row.webhook_generation or 0) + 1
        store.set_webhook_generation(conn, row.id, generation, rt.clock() + SECRET_OVERLAP)
    return {"name": name, "client_id": row.id, "webhook_secret": secret_text(_webhook_secret(rt, row.id, generation)),
            "previous_valid_until": iso_utc(rt.clock() + SECRET_OVERLAP)}


def webhook_secrets(rt: Runtime, client_id: str, now: datetime) -> tuple[bytes, ...]:
    """The secrets that verify the open client ``client_id``'s messages now: its current one, and
    the previous one while it overlaps; none for a client that is not open."""
    with rt.engine.connect() as conn:
        row = store.open_service_client(conn, client_id)
    if row is None or not row.webhook_generation:
        return ()
    generations = [row.webhook_generation]
    if row.webhook_previous_until is not None and as_utc(row.webhook_previous_until) > now and row.webhook_generation > 1:
        generations.append(row.webhook_generation - 1)
    return tuple(_webhook_secret(rt, client_id, g) for g in generations)


def _webhook_secret(rt: Runtime, client_id: str, generation: int) -> bytes:
    return derive_secret(rt.keys.webhook_key(), _SECRET_LABEL, client_id, generation)


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

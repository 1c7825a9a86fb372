"""Roles and the authenticated actor."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    SEEKER = "seeker"
    ADVISOR = "advisor"
    EMPLOYER = "employer"
    AUDITOR = "auditor"
    ADMIN = "admin"
    # A service client (a channel integration, a plugin's worker): OAuth2 client credentials and
    # scopes, never a password sign-in (core.identity.clients).
    SERVICE = "service"
    # A plugin, as the actor of the releases and purges the audit log records; it has no account.
    PLUGIN = "plugin"


# The roles of people; service clients are created with `dossier clients add`.
PERSON_ROLES: tuple[Role, ...] = (Role.SEEKER, Role.ADVISOR, Role.EMPLOYER, Role.AUDITOR, Role.ADMIN)


# Roles an account can have (a plugin has none).
ACCOUNT_ROLES: tuple[Role, ...] = (*PERSON_ROLES, Role.SERVICE)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: an account, its role and what it is linked to, the client it uses, and the
    request (its id, for the audit entries) it acts through."""

    account_id: str
    role: Role
    subject_id: str | None = None
    employer_id: str | None = None
    client_id: str | None = None
    # What a service client's token allows (OAuth2 scopes); empty for people.
    scopes: frozenset[str] = frozenset()
    request_id: str | None = None


def plugin_actor(plugin: str, request_id: str | None = None) -> Actor:
    """A plugin as an actor: no account, its name as the client (``plugin:<name>``)."""
    return Actor("", Role.PLUGIN, client_id=f"plugin:{plugin}", request_id=request_id)

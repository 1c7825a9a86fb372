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


# The roles of people; service clients are created with `dossier clients add`.
PERSON_ROLES: tuple[Role, ...] = (Role.SEEKER, Role.ADVISOR, Role.EMPLOYER, Role.AUDITOR, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: an account, its role and what it is linked to, and the client it uses."""

    account_id: str
    role: Role
    subject_id: str | None = None
    employer_id: str | None = None
    client_id: str | None = None
    # What a service client's token allows (OAuth2 scopes); empty for people.
    scopes: frozenset[str] = frozenset()

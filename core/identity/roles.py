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


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: an account, its role and what it is linked to, and the client it uses."""

    account_id: str
    role: Role
    subject_id: str | None = None
    employer_id: str | None = None
    client_id: str | None = None

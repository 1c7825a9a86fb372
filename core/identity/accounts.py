"""Accounts, employers and caseload assignments (operator actions and sign-in)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from core.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from core.identity import store
from core.identity.passwords import MIN_LENGTH, hash_password, verify_password
from core.identity.roles import ACCOUNT_ROLES, Actor, Role
from core.identity.tokens import InvalidToken
from core.models import new_id
from core.runtime import Runtime

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,149}$")


@dataclass(frozen=True)
class AccountInfo:
    id: str
    username: str
    role: Role
    subject_id: str | None = None
    employer_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "username": self.username, "role": self.role.value}
        if self.subject_id:
            data["subject_id"] = self.subject_id
        if self.employer_id:
            data["employer_id"] = self.employer_id
        return data


def create_employer(rt: Runtime, name: str) -> dict[str, str]:
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInput("Le nom de l'employeur doit compter de 1 à 200 caractères.")
    with rt.transaction() as conn:
        employer_id = new_id()
        store.insert_employer(conn, employer_id, name, rt.clock())
    return {"id": employer_id, "name": name}


def check_email(address: str) -> str:
    """A work e-mail address: one address, a local part and a domain, no display name or spaces."""
    if not isinstance(address, str):
        raise ValueError("an e-mail address is a string")
    address = address.strip()
    local, at, domain = address.rpartition("@")
    if (not at or not local or "." not in domain or len(address) > 254 or domain.startswith(".") or domain.endswith(".")
            or any(c.isspace() or c in "<>,;\"()[]\\" for c in address)):
        raise ValueError("not an e-mail address (name@domain.example)")
    return address


def create_account(
    rt: Runtime, username: str, role: Role, password: str | None = None, employer_id: str | None = None,
    email: str | None = None,
) -> AccountInfo:
    """Create an account; a seeker's is linked to a new subject with its own data key (their dossier,
    whose records are created at their first write). ``email`` is an advisor's work address, where
    their alerts go."""
    if role not in ACCOUNT_ROLES:
        raise InvalidInput("Rôle inconnu / unknown role.", field="role")
    if role is Role.SERVICE:
        raise InvalidInput("Un client de service se crée avec `dossier clients add` / use `dossier clients add`.", field="role")
    if not USERNAME.match(username):
        raise InvalidInput("Nom d'utilisateur invalide: 2 à 150 caractères parmi a-z 0-9 . _ @ -.", field="username")
    if (role is Role.EMPLOYER) != (employer_id is not None):
        raise InvalidInput("Un compte employeur, et lui seul, est lié à un employeur (--employer).", field="employer")
    if password is not None and len(password) < MIN_LENGTH:
        raise InvalidInput(f"Le mot de passe doit compter au moins {MIN_LENGTH} caractères.", field="password")
    if email is not None:
        if role is not Role.ADVISOR:
            raise InvalidInput("Seul un conseiller a une adresse d'alerte / only an advisor has an alert address (--email).",
                               field="email")
        try:
            email = check_email(email)
        except ValueError as exc:
            raise InvalidInput(f"Adresse e-mail invalide / {exc}.", field="email") from None
    password_hash = hash_password(password) if password is not None else None
    with rt.transaction() as conn:
        if employer_id is not None and not store.employer_exists(conn, employer_id):
            raise NotFound("Employeur inconnu.", field="employer")
        if store.username_taken(conn, username):
            raise Conflict("Ce nom d'utilisateur existe déjà.", field="username")
        subject_id = _create_subject(rt, conn) if role is Role.SEEKER else None
        account_id = new_id()
        try:
            store.insert_account(conn, id=account_id, username=username, role=role.value, password_hash=password_hash,
                                 subject_id=subject_id, employer_id=employer_id, created_at=rt.clock(), email=email)
        except IntegrityError:
            raise Conflict("Ce nom d'utilisateur existe déjà.", field="username") from None
    return AccountInfo(account_id, username, role, subject_id, employer_id)


def _create_subject(rt: Runtime, conn: Connection) -> str:
    subject_id = new_id()
    store.insert_subject(conn, subject_id, rt.sealer.new_data_key(subject_id), rt.clock())
    return subject_id


def account_by_username(rt: Runtime, username: str) -> AccountInfo:
    with rt.engine.connect() as conn:
        row = store.open_account_named(conn, username)
    if row is None:
        raise NotFound("Compte inconnu.", field="username")
    return AccountInfo(row.id, row.username, Role(row.role), row.subject_id, row.employer_id)


def set_password(rt: Runtime, username: str, password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"Le mot de passe doit compter au moins {MIN_LENGTH} caractères.", field="password")
    with rt.transaction() as conn:
        if store.set_password_hash(conn, username, hash_password(password)) != 1:
            raise NotFound("Compte inconnu.", field="username")


def assign_seeker(rt: Runtime, advisor: str, seeker: str) -> dict[str, str]:
    advisor_info, seeker_info = _advisor(rt, advisor), account_by_username(rt, seeker)
    if seeker_info.role is not Role.SEEKER:
        raise InvalidInput("--seeker doit nommer un compte de chercheur d'emploi.", field="seeker")
    with rt.transaction() as conn:
        store.assign_seeker(conn, advisor_info.id, seeker_info.subject_id or "", rt.clock())
    return {"advisor_id": advisor_info.id, "subject_id": seeker_info.subject_id or ""}


def assign_employer(rt: Runtime, advisor: str, employer_id: str) -> dict[str, str]:
    advisor_info = _advisor(rt, advisor)
    with rt.transaction() as conn:
        if not store.employer_exists(conn, employer_id):
            raise NotFound("Employeur inconnu.", field="employer")
        store.assign_employer(conn, advisor_info.id, employer_id, rt.clock())
    return {"advisor_id": advisor_info.id, "employer_id": employer_id}


def _advisor(rt: Runtime, username: str) -> AccountInfo:
    info = account_by_username(rt, username)
    if info.role is not Role.ADVISOR:
        raise InvalidInput("--advisor doit nommer un compte de conseiller.", field="advisor")
    return info


def actor_for_token(rt: Runtime, token: str) -> Actor:
    """The actor a bearer token names (its signature, issuer, audience and expiry checked).

    Whether the account is still open is a separate check (``require_open_account``), which every
    request makes (``core.http.api.current_actor``).
    """
    try:
        claims = rt.tokens.verify(token)
        role = Role(claims.role)
    except (InvalidToken, ValueError):
        raise Unauthenticated() from None
    if role not in ACCOUNT_ROLES:
        raise Unauthenticated()
    if (role is Role.SEEKER) != (claims.subject_id is not None) or (role is Role.EMPLOYER) != (claims.employer_id is not None):
        raise Unauthenticated()
    if (role is Role.SERVICE) != (claims.scope is not None):
        raise Unauthenticated()
    scopes = frozenset(claims.scope.split()) if claims.scope else frozenset()
    return Actor(claims.account_id, role, claims.subject_id, claims.employer_id, claims.client_id, scopes)


def require_open_account(rt: Runtime, actor: Actor) -> None:
    """401 unless the actor's account still exists, is open, and has the role its token names."""
    if not store.account_is_open(rt.engine, actor):
        raise Unauthenticated()


def sign_in(rt: Runtime, username: str, password: str) -> tuple[str, int]:
    """Check a local account's password; return an access token and its lifetime."""
    with rt.engine.connect() as conn:
        row = store.person_signing_in(conn, username)
    if not verify_password(row.password_hash if row else None, password) or row is None:
        raise Unauthenticated("Nom d'utilisateur ou mot de passe incorrect.")
    ttl = rt.settings.TOKEN_TTL
    token = rt.tokens.issue(row.id, row.role, client_id="dossier-login", ttl=ttl, subject_id=row.subject_id,
                            employer_id=row.employer_id)
    return token, ttl


def account_info(rt: Runtime, account_id: str) -> AccountInfo:
    with rt.engine.connect() as conn:
        row = store.account_by_id(conn, account_id)
    return AccountInfo(row.id, row.username, Role(row.role), row.subject_id, row.employer_id)

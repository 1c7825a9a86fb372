"""Domain errors. The HTTP layer turns each into a problem+json response with a stable type."""

from __future__ import annotations

from typing import Any, Protocol


class DossierError(Exception):
    """Base of every error a user can cause. ``slug`` is the stable problem type."""

    slug = "error"
    status = 400

    def __init__(self, detail: str = "", **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(DossierError):
    slug, status = "validation-error", 422


class NotFound(DossierError):
    slug, status = "not-found", 404


class Refusal(Exception):
    """An act refused after its refusal was recorded: the unit of work commits the record (the audit
    entry, written before anything else) and raises on (core.unit_of_work)."""


class RefusedDecision(Protocol):
    """What the HTTP layer needs to know of a denied decision (``core.policy.Decision`` is one)."""

    @property
    def reason(self) -> str: ...

    @property
    def visible(self) -> bool: ...

    @property
    def consent_required(self) -> str | None: ...


class AccessRefused(Refusal):
    """The policy denied an access. ``decision`` says why; the HTTP layer maps it (404 when the
    caller may not learn that the subject exists, 403 otherwise, consent-required when a consent
    is what is missing)."""

    def __init__(self, decision: RefusedDecision) -> None:
        super().__init__(decision.reason)
        self.decision = decision


class Gone(DossierError, Refusal):
    """The subject was erased; only an actor related to the subject learns it."""

    slug, status = "erased", 410


class Forbidden(DossierError):
    slug, status = "forbidden", 403


class ConsentRequired(Forbidden):
    slug = "consent-required"


class Conflict(DossierError):
    slug, status = "conflict", 409


class Unauthenticated(DossierError):
    slug, status = "unauthenticated", 401


class TooManyRequests(DossierError):
    slug, status = "too-many-requests", 429

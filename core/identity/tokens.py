"""Access tokens: JWTs in the RFC 9068 profile, signed with the instance's token key.

Verification refuses anything but our algorithm and our active token key (so ``alg: none``,
tokens signed by a foreign key, by another use's key or by a retired token key fail), checks
``typ``, issuer, audience and expiry, and remembers a verified token until it expires or the token
key changes: the same bytes always verify the same way, and the signature check is a real share of
a request's cost.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from core.identity.signing import SIGNING_ALGORITHM, KeyUse, SigningKeys

TOKEN_TYPE = "at+jwt"


class InvalidToken(Exception):
    """The token is malformed, forged, expired or not meant for this service."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    account_id: str
    role: str
    client_id: str
    expires_at: int
    token_id: str
    subject_id: str | None = None
    employer_id: str | None = None
    scope: str | None = None


class TokenService:
    """Issues and verifies access tokens."""

    def __init__(
        self,
        keys: SigningKeys,
        issuer: str,
        audience: str,
        ttl: int,
        leeway: int = 30,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl
        self._leeway = leeway
        self._clock = clock
        self._cache_size = cache_size
        self._cache: OrderedDict[str, TokenClaims] = OrderedDict()
        self._lock = Lock()
        self._key_generation = keys.generation()

    def issue(self, account_id: str, role: str, client_id: str = "dossier", ttl: int | None = None, *,
              subject_id: str | None = None, employer_id: str | None = None, scope: str | None = None) -> str:
        """A signed access token. A seeker's token names their subject, an employer user's their
        employer: what the account is linked to never changes, so requests need not look it up."""
        now = int(self._clock())
        key = self._keys.key(KeyUse.TOKEN)
        header = {"alg": SIGNING_ALGORITHM, "typ": TOKEN_TYPE, "kid": key.kid}
        claims = {
            "iss": self._issuer,
            "sub": account_id,
            "aud": self._audience,
            "exp": now + (ttl or self._ttl),
            "iat": now,
            "jti": str(uuid.uuid4()),
            "client_id": client_id,
            "role": role,
        }
        if subject_id is not None:
            claims["subject_id"] = subject_id
        if employer_id is not None:
            claims["employer_id"] = employer_id
        if scope is not None:
            claims["scope"] = scope  # RFC 9068 section 2.2.3
        return jwt.encode(header, claims, key, algorithms=[SIGNING_ALGORITHM])

    def verify(self, token: str) -> TokenClaims:
        now = self._clock()
        generation = self._forget_if_keys_changed()
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires_at + self._leeway < now:
                raise InvalidToken("expired")
            return cached
        claims = self._verify_signed(token, now)
        if self._cache_size:
            with self._lock:
                if generation == self._key_generation:  # not if the keys changed meanwhile
                    self._cache[token] = claims
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return claims

    def _forget_if_keys_changed(self) -> int:
        # NOTE: a rotation retires the token key: what it verified is not remembered past it.
        generation = self._keys.generation()
        if generation != self._key_generation:
            with self._lock:
                self._cache.clear()
                self._key_generation = generation
        return generation

    def _verify_signed(self, token: str, now: float) -> TokenClaims:
        try:
            decoded = jwt.decode(token, self._keys.public_keyset(KeyUse.TOKEN), algorithms=[SIGNING_ALGORITHM])
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise InvalidToken("signature or format") from exc
        if decoded.header.get("typ", "").lower() not in (TOKEN_TYPE, "application/" + TOKEN_TYPE):
            raise InvalidToken("not an access token")
        registry = jwt.JWTClaimsRegistry(
            now=int(now),
            leeway=self._leeway,
            iss={"essential": True, "value": self._issuer},
            aud={"essential": True, "value": self._audience},
            exp={"essential": True},
            sub={"essential": True},
            jti={"essential": True},
        )
        claims: dict[str, Any] = decoded.claims
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise InvalidToken(exc.error) from exc
        if not isinstance(claims.get("role"), str) or not isinstance(claims.get("exp"), int):
            raise InvalidToken("claims")
        return TokenClaims(
            account_id=str(claims["sub"]),
            role=claims["role"],
            client_id=str(claims.get("client_id", "")),
            expires_at=claims["exp"],
            token_id=str(claims["jti"]),
            subject_id=_optional_str(claims.get("subject_id")),
            employer_id=_optional_str(claims.get("employer_id")),
            scope=_optional_str(claims.get("scope")),
        )


def _optional_str(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidToken("claims")
    return value

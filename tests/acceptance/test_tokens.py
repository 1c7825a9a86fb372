"""Access tokens (RFC 9068 JWTs): what is accepted and what is refused with 401."""

from __future__ import annotations

import base64
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey

from core.identity.roles import Role
from core.identity.signing import KeyUse
from core.identity.tokens import InvalidToken, TokenService
from tests.conftest import Person


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_for(rt, person: Person, **changes) -> dict:  # type: ignore[no-untyped-def]
    now = int(time.time())
    claims = {"iss": rt.settings.TOKEN_ISSUER, "sub": person.id, "aud": rt.settings.TOKEN_AUDIENCE, "exp": now + 300,
              "iat": now, "jti": "j1", "client_id": "t", "role": person.role.value, "subject_id": person.subject_id}
    claims.update(changes)
    return claims


def test_me_describes_the_caller(client, seeker: Person, make_person) -> None:
    body = client.get("/api/v1/me", headers=seeker.auth).get_json()
    assert body == {"id": seeker.id, "username": seeker.username, "role": "seeker", "subject_id": seeker.subject_id}
    employer = make_person(Role.EMPLOYER)
    assert client.get("/api/v1/me", headers=employer.auth).get_json()["employer_id"] == employer.employer_id


def test_the_token_header_follows_rfc_9068(rt, seeker: Person) -> None:
    header = json.loads(base64.urlsafe_b64decode(seeker.token.split(".")[0] + "=="))
    assert header["typ"] == "at+jwt" and header["alg"] == "Ed25519"
    assert header["kid"] == rt.signing.key(KeyUse.TOKEN).kid


def test_the_signing_key_is_published(client, rt) -> None:
    jwks = client.get("/.well-known/jwks.json").get_json()
    kids = {k["kid"] for k in jwks["keys"]}
    assert rt.signing.key(KeyUse.TOKEN).kid in kids
    assert all("d" not in k for k in jwks["keys"]), "private key material must never be published"
    assert {k["dossier_use"] for k in jwks["keys"]} == {"token", "receipt", "checkpoint", "webhook", "evidence"}


@pytest.mark.parametrize("case", ["expired", "alg-none", "foreign-key", "wrong-audience", "wrong-issuer", "tampered",
                                  "not-a-jwt", "wrong-typ", "role-changed", "unknown-account", "basic-scheme",
                                  "subject-changed", "subject-missing"])
def test_bad_tokens_get_401(client, rt, seeker: Person, case: str) -> None:
    own_key = rt.signing.key(KeyUse.TOKEN)
    header = {"alg": "Ed25519", "typ": "at+jwt", "kid": own_key.kid}
    foreign = OKPKey.generate_key("Ed25519", parameters={"kid": own_key.kid})
    sign = lambda claims, key=own_key, hdr=header: jwt.encode(hdr, claims, key, algorithms=["Ed25519"])
    token = {
        "expired": lambda: sign(claims_for(rt, seeker, exp=int(time.time()) - 3600)),
        "alg-none": lambda: b64({"alg": "none", "typ": "at+jwt"}) + "." + b64(claims_for(rt, seeker)) + ".",
        "foreign-key": lambda: sign(claims_for(rt, seeker), foreign),
        "wrong-audience": lambda: sign(claims_for(rt, seeker, aud="another-api")),
        "wrong-issuer": lambda: sign(claims_for(rt, seeker, iss="https://evil.example")),
        "tampered": lambda: seeker.token[:-4] + ("AAAA" if not seeker.token.endswith("AAAA") else "BBBB"),
        "not-a-jwt": lambda: "hello",
        "wrong-typ": lambda: sign(claims_for(rt, seeker), own_key, {**header, "typ": "JWT"}),
        "role-changed": lambda: sign(claims_for(rt, seeker, role="admin")),
        "unknown-account": lambda: sign(claims_for(rt, seeker, sub="00000000-0000-4000-8000-000000000000")),
        "basic-scheme": lambda: None,
        # A seeker's token names their subject; one naming another (or none) is refused.
        "subject-changed": lambda: sign(claims_for(rt, seeker, subject_id="00000000-0000-4000-8000-000000000001")),
        "subject-missing": lambda: sign({k: v for k, v in claims_for(rt, seeker).items() if k != "subject_id"}),
    }[case]()
    headers = {"Authorization": "Basic dXNlcjpwYXNz"} if token is None else {"Authorization": f"Bearer {token}"}
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_cached_token_still_expires(rt, seeker: Person) -> None:
    now = [time.time()]
    service = TokenService(rt.signing, rt.settings.TOKEN_ISSUER, rt.settings.TOKEN_AUDIENCE, ttl=60, leeway=0, clock=lambda: now[0])
    token = service.issue(seeker.id, "seeker")
    assert service.verify(token).account_id == seeker.id
    now[0] += 61
    with pytest.raises(InvalidToken):
        service.verify(token)


def test_sign_in_with_a_password(client, cli) -> None:
    result = cli("users", "add", "zoe.login", "--role", "advisor", "--password-stdin", input="correct horse battery\n")
    assert result.exit_code == 0, result.output
    ok = client.post("/api/v1/auth/token", json={"username": "zoe.login", "password": "correct horse battery"})
    assert ok.status_code == 200
    token = ok.get_json()["access_token"]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()["username"] == "zoe.login"
    for username, password in (("zoe.login", "wrong password!"), ("nobody", "correct horse battery")):
        refused = client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert refused.status_code == 401


def test_a_closed_account_loses_access_at_once(client, rt, seeker: Person) -> None:
    from sqlalchemy import update

    from core.models import accounts, utcnow

    assert client.get("/api/v1/me", headers=seeker.auth).status_code == 200
    with rt.engine.begin() as conn:
        conn.execute(update(accounts).where(accounts.c.id == seeker.id).values(disabled_at=utcnow()))
    assert client.get("/api/v1/me", headers=seeker.auth).status_code == 401

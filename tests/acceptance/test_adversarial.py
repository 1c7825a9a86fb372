"""Adversarial tests: trying to break the invariants (docs/design.md) and the public contract
(API.md) from the outside.

Every test drives the real HTTP API (or the command line). A test marked ``xfail(strict=True)``
documents a defect found in the service: it fails today because of that defect, and it will
start passing (and so fail the suite, being strict) once the defect is fixed, which is the
signal to drop the mark.

Concurrency tests interleave two requests: a function that the first request calls in the middle
of its transaction is wrapped so that, at that moment, a second request starts in another thread
and is given WINDOW seconds to finish (it finishes unless a lock held by the first makes it wait).
Whichever order the service then imposes, the outcome must be one that some serial order gives.
Nothing but the service's own functions is wrapped (and, in the erasure race, the WAL checkpoint
that follows an erasure).

Some tests also build requests that the test client would not (lone surrogates, NUL bytes,
duplicate keys, chunked bodies) and set PROPAGATE_EXCEPTIONS off where the answer must be seen as
a production server would send it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from joserfc.jwk import OKPKey
from sqlalchemy import func, select

from config.logging import JsonFormatter
from core.dossier import service, store
from core.identity.roles import Role
from core.identity.signing import KeyUse
from core.models import blind_indexes, records, sealed_fields
from core.runtime import runtime
from tests.conftest import POSTGRES_URL, Person

ON_POSTGRESQL = bool(POSTGRES_URL)

MARKER = "QxAdv7731"
NATIONAL_ID = "85.07.30-033.28"
NATIONAL_ID_DIGITS = "85073003328"
OTHER_NATIONAL_ID = "90.02.01-997.04"  # 900201997 % 97 = 93, check digits 04

IDENTITY: dict[str, Any] = {
    "name": f"{MARKER} Zoé",
    "email": f"{MARKER.lower()}@example.org",
    "phone": "+32 470 77 31 31",
    "national_id": NATIONAL_ID,
    "birth_date": "1985-07-30",
    "address": {"street": f"Rue {MARKER} 7", "postal_code": "4000", "city": "Liège"},
}
CONTACT = {"channel": "phone", "occurred_at": "2026-11-20T10:00:00+01:00", "summary": f"{MARKER} contact summary"}
ACTIVITY = {"kind": "training", "occurred_at": "2026-11-21T09:00:00+01:00", "description": f"{MARKER} activity"}
PROFILE = {"postal_code": "4000", "skills": ["skill.tig-welding"], "education": [{"title": f"{MARKER} diploma"}]}


def base(person: Person) -> str:
    return f"/api/v1/seekers/{person.subject_id}"


def json_headers(person: Person | None = None) -> dict[str, str]:
    return {**(person.auth if person else {}), "Content-Type": "application/json"}


def assert_problem(response, status: int, slug: str | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """An RFC 9457 problem with the four members, the right status, and no stack trace."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/problem+json"
    text = response.get_data(as_text=True)
    problem = json.loads(text)
    assert {"type", "title", "status", "detail"} <= set(problem), problem
    assert problem["status"] == status
    assert isinstance(problem["title"], str) and isinstance(problem["detail"], str) and problem["detail"]
    if slug is not None:
        assert problem["type"].endswith("/" + slug), problem["type"]
    for leak in ("Traceback", 'File "', "sqlalchemy", "psycopg", "sqlite3"):
        assert leak not in text, f"{leak!r} in a problem response"
    return problem


def fill_dossier(client, seeker: Person, advisor: Person) -> None:  # type: ignore[no-untyped-def]
    """Identity, profile, a validation, a contact and an activity, all carrying MARKER."""
    assert client.put(base(seeker) + "/identity", json=IDENTITY, headers=seeker.auth).status_code == 200
    assert client.patch(base(seeker) + "/profile", json=PROFILE, headers=seeker.auth).status_code == 200
    assert client.post(base(seeker) + "/profile/validations", json={"field": "skills", "evidence": f"{MARKER} certificate"},
                       headers=advisor.auth).status_code == 201
    assert client.post(base(seeker) + "/contacts", json=CONTACT, headers=advisor.auth).status_code == 201
    assert client.post(base(seeker) + "/activities", json=ACTIVITY, headers=seeker.auth).status_code == 201


def dossier_of(client, seeker: Person) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = client.get(base(seeker) + "/dossier", headers=seeker.auth)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()


def lookup(client, admin: Person, **query: str) -> list[str]:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/seekers/lookup", json=query, headers=admin.auth)
    assert response.status_code == 200
    return response.get_json()["subject_ids"]


# Every endpoint that takes a subject id: (method, suffix, body).
SUBJECT_ENDPOINTS: list[tuple[str, str, Any]] = [
    ("GET", "/dossier", None),
    ("PUT", "/identity", {"name": "Intrus"}),
    ("PATCH", "/profile", {"postal_code": "1000"}),
    ("POST", "/profile/validations", {"field": "skills", "evidence": "x"}),
    ("POST", "/contacts", CONTACT),
    ("POST", "/activities", ACTIVITY),
    ("GET", "/activities", None),
    ("GET", "/export", None),
    ("DELETE", "", None),
]
ENDPOINT_IDS = [f"{m} {s or '/'}" for m, s, _ in SUBJECT_ENDPOINTS]


def count_rows(rt, subject_id: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with rt.engine.connect() as conn:
        n_records = conn.execute(select(func.count()).select_from(records).where(records.c.subject_id == subject_id)).scalar_one()
        n_fields = conn.execute(select(func.count()).select_from(sealed_fields)
                                .where(sealed_fields.c.subject_id == subject_id)).scalar_one()
    return n_records, n_fields


# == object-level authorisation and id confusion (invariant 4) ====================================


@pytest.mark.parametrize(("method", "suffix", "body"), SUBJECT_ENDPOINTS, ids=ENDPOINT_IDS)
@pytest.mark.parametrize("attacker_kind", ["other-seeker", "other-seekers-advisor", "employer", "auditor"])
def test_nobody_unrelated_reaches_a_filled_dossier(client, rt, make_person, seeker, advisor, method, suffix, body, attacker_kind) -> None:
    fill_dossier(client, seeker, advisor)
    before_rows = count_rows(rt, seeker.subject_id)
    before = dossier_of(client, seeker)
    if attacker_kind == "other-seekers-advisor":
        # An advisor with a real caseload, just not this seeker.
        from core.identity import accounts

        other = make_person(Role.SEEKER)
        attacker = make_person(Role.ADVISOR)
        accounts.assign_seeker(rt, attacker.username, other.username)
    else:
        attacker = make_person({"other-seeker": Role.SEEKER, "employer": Role.EMPLOYER, "auditor": Role.AUDITOR}[attacker_kind])
    response = client.open(base(seeker) + suffix, method=method, json=body, headers=attacker.auth)
    assert_problem(response, 404, "not-found")
    assert MARKER not in response.get_data(as_text=True)
    assert seeker.subject_id not in response.get_data(as_text=True)
    assert dossier_of(client, seeker) == before
    assert count_rows(rt, seeker.subject_id) == before_rows


def test_uuid_spellings_reach_only_the_callers_own_dossier(client, make_person, seeker, advisor) -> None:
    fill_dossier(client, seeker, advisor)
    other = make_person(Role.SEEKER)
    # Upper case is the same UUID: the seeker reaches their own dossier, canonically named.
    own_upper = client.get(f"/api/v1/seekers/{seeker.subject_id.upper()}/dossier", headers=seeker.auth)
    assert own_upper.status_code == 200
    assert own_upper.get_json()["subject_id"] == seeker.subject_id
    # ... and nobody else's, whatever the spelling.
    sid = seeker.subject_id
    spellings = [
        sid.upper(), "{" + sid + "}", "urn:uuid:" + sid, sid.replace("-", ""), f"%7B{sid}%7D", f"{sid}%00", f" {sid}",
        f"{sid}.json", f"{other.subject_id}/../{sid}", f"{other.subject_id}%2F..%2F{sid}",
    ]
    for spelling in spellings:
        for suffix in ("/dossier", "/export", "/activities"):
            response = client.get(f"/api/v1/seekers/{spelling}{suffix}", headers=other.auth)
            assert response.status_code == 404, (spelling, suffix, response.status_code)
            assert response.mimetype == "application/problem+json"
            assert MARKER not in response.get_data(as_text=True)
    # Path tricks around the route itself.
    for path in (f"{base(seeker)}/dossier/", f"/api/v1/seekers//{sid}/dossier", f"/api/v1//seekers/{sid}/dossier",
                 f"/api/v1/seekers/{sid}/./dossier", f"/api/v1/seekers/{sid}/dossier;x", f"/api/v1/seekers/{sid}%2Fdossier"):
        response = client.get(path, headers=other.auth)
        assert response.status_code in (308, 404), (path, response.status_code)
        assert MARKER not in response.get_data(as_text=True)
    # A query parameter cannot redirect the read to another subject.
    response = client.get(f"{base(other)}/dossier?subject_id={sid}&subject={sid}", headers=other.auth)
    assert response.status_code == 200 and response.get_json()["subject_id"] == other.subject_id
    assert MARKER not in response.get_data(as_text=True)


def test_ids_of_other_kinds_in_the_subject_slot_get_404(client, rt, make_person, seeker, advisor) -> None:
    fill_dossier(client, seeker, advisor)
    admin = make_person(Role.ADMIN)
    employer = make_person(Role.EMPLOYER)
    contact_id = dossier_of(client, seeker)["contacts"][0]["id"]
    with rt.engine.connect() as conn:
        record_ids = list(conn.execute(select(records.c.id).where(records.c.subject_id == seeker.subject_id)).scalars())
    confusable = [seeker.id, advisor.id, admin.id, employer.id, employer.employer_id, contact_id, *record_ids,
                  str(uuid.UUID(int=0)), "ffffffff-ffff-ffff-ffff-ffffffffffff"]
    for wrong_id in confusable:
        for caller in (seeker, advisor, admin):
            for method, suffix, body in SUBJECT_ENDPOINTS:
                response = client.open(f"/api/v1/seekers/{wrong_id}{suffix}", method=method, json=body, headers=caller.auth)
                assert response.status_code == 404, (wrong_id, caller.role, method, suffix, response.status_code)
                assert MARKER not in response.get_data(as_text=True)
    assert dossier_of(client, seeker)["identity"]["name"] == IDENTITY["name"]


def test_employer_auditor_and_admin_never_read_dossier_content(client, make_person, seeker, advisor) -> None:
    fill_dossier(client, seeker, advisor)
    before = dossier_of(client, seeker)
    admin = make_person(Role.ADMIN)
    for role, status in ((Role.EMPLOYER, 404), (Role.AUDITOR, 404), (Role.ADMIN, 403)):
        person = admin if role is Role.ADMIN else make_person(role)
        for suffix in ("/dossier", "/activities", "/export"):
            response = client.get(base(seeker) + suffix, headers=person.auth)
            assert_problem(response, status)
            body = response.get_data(as_text=True)
            for secret in (MARKER, MARKER.lower(), NATIONAL_ID_DIGITS, "470 77 31 31"):
                assert secret not in body, (role, suffix, secret)
        for method, suffix, body in SUBJECT_ENDPOINTS:
            if method == "GET" or (role is Role.ADMIN and method == "DELETE"):
                continue
            response = client.open(base(seeker) + suffix, method=method, json=body, headers=person.auth)
            assert response.status_code == status, (role, method, suffix, response.status_code)
    # The admin's lookup names subjects, never content.
    found = client.post("/api/v1/seekers/lookup", json={"email": IDENTITY["email"]}, headers=admin.auth)
    assert found.get_json() == {"subject_ids": [seeker.subject_id]}
    assert dossier_of(client, seeker) == before


def test_the_advisor_never_receives_withheld_sections(client, seeker: Person, advisor: Person) -> None:
    """Profile and activities are withheld from the advisor (no basis / no consent): not one value leaks."""
    profile_marker, activity_marker = "QxProfileOnly5511", "QxActivityOnly6622"
    b = base(seeker)
    assert client.put(b + "/identity", json=IDENTITY, headers=seeker.auth).status_code == 200
    assert client.patch(b + "/profile", json={"education": [{"title": profile_marker}], "postal_code": "7711"},
                        headers=seeker.auth).status_code == 200
    assert client.post(b + "/activities", json={**ACTIVITY, "description": activity_marker}, headers=seeker.auth).status_code == 201
    response = client.get(b + "/dossier", headers=advisor.auth)
    assert response.status_code == 200
    dossier = response.get_json()
    assert dossier["identity"]["name"] == IDENTITY["name"]
    assert "profile" not in dossier and "activities" not in dossier
    assert {w["section"] for w in dossier["withheld"]} == {"profile", "activities"}
    text = response.get_data(as_text=True)
    assert profile_marker not in text and activity_marker not in text and "7711" not in text
    for suffix in ("/activities", "/export"):
        response = client.get(b + suffix, headers=advisor.auth)
        assert response.status_code == 403
        assert activity_marker not in response.get_data(as_text=True) and profile_marker not in response.get_data(as_text=True)
    assert client.get(b + "/activities", headers=advisor.auth).get_json()["type"].endswith("/consent-required")


def test_head_and_options_do_not_bypass_authorisation(client, make_person, seeker: Person, advisor: Person) -> None:
    fill_dossier(client, seeker, advisor)
    stranger = make_person(Role.SEEKER)
    for suffix in ("/dossier", "/export", "/activities"):
        assert client.head(base(seeker) + suffix).status_code == 401
        assert client.head(base(seeker) + suffix, headers=stranger.auth).status_code == 404
        options = client.options(base(seeker) + suffix)
        assert options.status_code in (200, 204, 401, 405)
        assert MARKER not in options.get_data(as_text=True) and not options.get_data()
    assert client.head(base(seeker) + "/dossier", headers=seeker.auth).status_code == 200


def test_lookup_is_refused_to_seekers_employers_and_auditors(client, make_person, seeker, advisor) -> None:
    fill_dossier(client, seeker, advisor)
    for role in (Role.SEEKER, Role.EMPLOYER, Role.AUDITOR):
        person = seeker if role is Role.SEEKER else make_person(role)
        for query in ({"national_id": NATIONAL_ID_DIGITS}, {"email": IDENTITY["email"]}):
            response = client.post("/api/v1/seekers/lookup", json=query, headers=person.auth)
            assert_problem(response, 403, "forbidden")
            assert seeker.subject_id not in response.get_data(as_text=True)


# == access tokens ===============================================================================


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def token_claims(rt, person: Person, **changes: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    import time

    now = int(time.time())
    claims = {"iss": rt.settings.TOKEN_ISSUER, "sub": person.id, "aud": rt.settings.TOKEN_AUDIENCE, "exp": now + 600,
              "iat": now, "jti": str(uuid.uuid4()), "client_id": "adversary", "role": person.role.value}
    if person.subject_id:
        claims["subject_id"] = person.subject_id
    if person.employer_id:
        claims["employer_id"] = person.employer_id
    claims.update(changes)
    return claims


def ed25519_token(header: dict[str, Any], claims: dict[str, Any], key: OKPKey) -> str:
    """A compact JWS made by hand, so that any header can be tried."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    return signing_input + "." + b64url(key.private_key.sign(signing_input.encode()))


def hs256_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    return signing_input + "." + b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def me_status(client, token: str) -> int:  # type: ignore[no-untyped-def]
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_hand_made_token_with_the_real_key_is_accepted(client, rt, make_person) -> None:
    """The control for the forgeries below: the hand-made signer itself is right."""
    admin = make_person(Role.ADMIN)
    key = rt.signing.key(KeyUse.TOKEN)
    token = ed25519_token({"alg": "Ed25519", "typ": "at+jwt", "kid": key.kid}, token_claims(rt, admin), key)
    assert me_status(client, token) == 200


FORGERIES = [
    "hs256-public-key-raw", "hs256-public-key-x", "hs256-public-jwk-json", "hs256-public-pem", "hs256-empty-secret",
    "embedded-jwk-with-token-kid", "embedded-jwk-without-kid", "jku-to-attacker", "x5u-to-attacker",
    "kid-path-traversal", "kid-sql", "receipt-key", "checkpoint-key", "receipt-key-under-token-kid",
    "alg-none-lower", "alg-None", "alg-NONE", "alg-none-with-signature", "empty-signature", "two-segments",
    "five-segments", "eddsa-with-attacker-key", "es256-claimed", "signature-of-another-token",
    "huge-garbage", "huge-header", "crit-with-attacker-key", "claims-not-an-object", "header-not-an-object",
]


@pytest.mark.parametrize("case", FORGERIES)
def test_forged_tokens_get_401(client, rt, make_person, case: str) -> None:
    # The target of every forgery: an admin account that really exists.
    admin = make_person(Role.ADMIN)
    token_key = rt.signing.key(KeyUse.TOKEN)
    attacker = OKPKey.generate_key("Ed25519", auto_kid=True)
    claims = token_claims(rt, admin)
    header = {"alg": "Ed25519", "typ": "at+jwt", "kid": token_key.kid}
    public = token_key.as_dict(private=False)
    raw_public = base64.urlsafe_b64decode(public["x"] + "==")
    hs = {**header, "alg": "HS256"}
    unsigned = f"{segment({'alg': 'none', 'typ': 'at+jwt'})}.{segment(claims)}"

    def receipt_signed(kid: str | None) -> str:
        key = rt.signing.key(KeyUse.RECEIPT)
        return ed25519_token({**header, "kid": kid or key.kid}, claims, key)

    token: str = {
        "hs256-public-key-raw": lambda: hs256_token(hs, claims, raw_public),
        "hs256-public-key-x": lambda: hs256_token(hs, claims, public["x"].encode()),
        "hs256-public-jwk-json": lambda: hs256_token(hs, claims, json.dumps(public).encode()),
        "hs256-public-pem": lambda: hs256_token(hs, claims, token_key.as_pem(private=False)),
        "hs256-empty-secret": lambda: hs256_token(hs, claims, b""),
        "embedded-jwk-with-token-kid": lambda: ed25519_token({**header, "jwk": attacker.as_dict(private=False)}, claims, attacker),
        "embedded-jwk-without-kid": lambda: ed25519_token(
            {"alg": "Ed25519", "typ": "at+jwt", "jwk": attacker.as_dict(private=False)}, claims, attacker),
        "jku-to-attacker": lambda: ed25519_token(
            {"alg": "Ed25519", "typ": "at+jwt", "kid": attacker.kid, "jku": "https://evil.example/jwks.json"}, claims, attacker),
        "x5u-to-attacker": lambda: ed25519_token(
            {"alg": "Ed25519", "typ": "at+jwt", "kid": attacker.kid, "x5u": "https://evil.example/cert.pem"}, claims, attacker),
        "kid-path-traversal": lambda: ed25519_token({**header, "kid": "../../../../dev/null"}, claims, attacker),
        "kid-sql": lambda: ed25519_token({**header, "kid": "x' OR '1'='1"}, claims, attacker),
        # The service's other signing keys sign consent receipts and audit checkpoints; what they
        # sign must never pass for an access token (docs/design.md: separate keys).
        "receipt-key": lambda: receipt_signed(None),
        "checkpoint-key": lambda: ed25519_token({**header, "kid": rt.signing.key(KeyUse.CHECKPOINT).kid}, claims,
                                                rt.signing.key(KeyUse.CHECKPOINT)),
        "receipt-key-under-token-kid": lambda: receipt_signed(token_key.kid),
        "alg-none-lower": lambda: unsigned + ".",
        "alg-None": lambda: f"{segment({'alg': 'None', 'typ': 'at+jwt'})}.{segment(claims)}.",
        "alg-NONE": lambda: f"{segment({'alg': 'NONE', 'typ': 'at+jwt'})}.{segment(claims)}.",
        "alg-none-with-signature": lambda: unsigned + "." + b64url(b"\x00" * 64),
        "empty-signature": lambda: f"{segment(header)}.{segment(claims)}.",
        "two-segments": lambda: f"{segment(header)}.{segment(claims)}",
        "five-segments": lambda: ".".join([segment({"alg": "dir", "enc": "A256GCM"}), "", b64url(b"iv" * 6),
                                          b64url(json.dumps(claims).encode()), b64url(b"t" * 16)]),
        "eddsa-with-attacker-key": lambda: ed25519_token({**header, "alg": "EdDSA"}, claims, attacker),
        "es256-claimed": lambda: ed25519_token({**header, "alg": "ES256"}, claims, token_key),
        # A genuine signature, lifted from the admin's real token onto other claims.
        "signature-of-another-token": lambda: f"{segment(header)}.{segment({**claims, 'role': 'admin', 'exp': claims['exp'] + 9999})}."
                                              + admin.token.rsplit(".", 1)[1],
        "huge-garbage": lambda: "A" * 300_000,
        "huge-header": lambda: ed25519_token({**header, "pad": "x" * 200_000}, claims, attacker),
        "crit-with-attacker-key": lambda: ed25519_token({**header, "crit": ["exp"], "exp": 1}, claims, attacker),
        "claims-not-an-object": lambda: f"{segment(header)}.{b64url(b'[1,2]')}." + b64url(
            token_key.private_key.sign(f"{segment(header)}.{b64url(b'[1,2]')}".encode())),
        "header-not-an-object": lambda: f"{b64url(b'[]')}.{segment(claims)}." + b64url(b"\x00" * 64),
    }[case]()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # The forged token reaches no dossier either.
    response = client.post("/api/v1/seekers/lookup", json={"email": "a@example.org"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


@pytest.mark.parametrize(("typ", "accepted"), [
    ("at+jwt", True), ("AT+JWT", True), ("application/at+jwt", True),
    (None, False), ("JWT", False), ("jwt", False), ("application/jwt", False), ("at+jwt ", False), ("dpop+jwt", False),
    ("", False), ("secevent+jwt", False),
])
def test_only_access_token_types_are_accepted(client, rt, seeker: Person, typ, accepted: bool) -> None:
    key = rt.signing.key(KeyUse.TOKEN)
    header: dict[str, Any] = {"alg": "Ed25519", "kid": key.kid}
    if typ is not None:
        header["typ"] = typ
    status = me_status(client, ed25519_token(header, token_claims(rt, seeker), key))
    assert status == (200 if accepted else 401)


@pytest.mark.parametrize("claims_change", [
    {"role": "admin"}, {"role": ["seeker"]}, {"role": None}, {"exp": "9999999999"}, {"exp": 1.5e10}, {"aud": ["other"]},
    {"sub": None}, {"jti": None}, {"iss": None}, {"nbf": 9_999_999_999},
])
def test_signed_tokens_with_bad_claims_get_401(client, rt, seeker: Person, claims_change) -> None:
    """Even with the real key (a buggy or compromised issuer flow), malformed claims are refused."""
    key = rt.signing.key(KeyUse.TOKEN)
    claims = {k: v for k, v in {**token_claims(rt, seeker), **claims_change}.items() if v is not None}
    token = ed25519_token({"alg": "Ed25519", "typ": "at+jwt", "kid": key.kid}, claims, key)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401, "unauthenticated")


def test_two_authorization_headers_are_refused_in_either_order(client, make_person, seeker: Person) -> None:
    admin = make_person(Role.ADMIN)
    for first, second in ((seeker.token, admin.token), (admin.token, seeker.token), (seeker.token, "garbage"),
                          ("garbage", admin.token)):
        response = client.get("/api/v1/me", headers=[("Authorization", f"Bearer {first}"), ("Authorization", f"Bearer {second}")])
        assert_problem(response, 401, "unauthenticated")


def test_a_token_outside_the_authorization_header_is_ignored(client, seeker: Person) -> None:
    url = base(seeker) + "/dossier"
    assert client.get(f"{url}?access_token={seeker.token}").status_code == 401
    client.set_cookie("access_token", seeker.token)
    client.set_cookie("session", seeker.token)
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"X-Access-Token": seeker.token, "Authorization": ""}).status_code == 401
    for header in (f"Token {seeker.token}", f"Basic {seeker.token}", f"Bearer{seeker.token}", seeker.token,
                   f"Bearer {seeker.token}, Bearer {seeker.token}", f"Bearer {seeker.token}.x", f"Bearer {seeker.token[:-2]}"):
        assert client.get(url, headers={"Authorization": header}).status_code == 401, header


def test_the_bearer_scheme_is_case_insensitive(client, seeker: Person) -> None:
    for scheme in ("bearer", "BEARER"):
        assert client.get("/api/v1/me", headers={"Authorization": f"{scheme} {seeker.token}"}).status_code == 200


# == request bodies (invariant 7) ================================================================


@pytest.mark.parametrize("nesting", ["array", "object"])
def test_deeply_nested_json_is_a_client_error(client, seeker: Person, nesting: str) -> None:
    depth = 100_000
    body = "[" * depth + "]" * depth if nesting == "array" else '{"a":' * depth + "1" + "}" * depth
    assert len(body) < 1024 * 1024  # under the size limit: only the depth is at fault
    response = client.put(base(seeker) + "/identity", data=body, headers=json_headers(seeker))
    assert response.status_code in (400, 413, 422)
    assert_problem(response, response.status_code)


BAD_BODIES: list[tuple[str, str, Any]] = [
    # identity: wrong types
    ("PUT", "/identity", {**IDENTITY, "name": 12345}),
    ("PUT", "/identity", {**IDENTITY, "name": ["a", "b"]}),
    ("PUT", "/identity", {**IDENTITY, "name": {"first": "a"}}),
    ("PUT", "/identity", {**IDENTITY, "name": True}),
    ("PUT", "/identity", {**IDENTITY, "name": None}),
    ("PUT", "/identity", {**IDENTITY, "name": ""}),
    ("PUT", "/identity", {**IDENTITY, "name": "x" * 201}),
    ("PUT", "/identity", {**IDENTITY, "email": ["a@example.org"]}),
    ("PUT", "/identity", {**IDENTITY, "email": "a@example.org\nBcc: b@example.org"}),
    ("PUT", "/identity", {**IDENTITY, "national_id": 85073003328}),
    ("PUT", "/identity", {**IDENTITY, "national_id": "85073003328" * 2}),
    ("PUT", "/identity", {**IDENTITY, "birth_date": 19850730}),
    ("PUT", "/identity", {**IDENTITY, "birth_date": "1899-12-31"}),
    ("PUT", "/identity", {**IDENTITY, "address": "Rue Haute 5, 4000 Liège"}),
    ("PUT", "/identity", {**IDENTITY, "address": {**IDENTITY["address"], "country": "be"}}),
    ("PUT", "/identity", {**IDENTITY, "address": {**IDENTITY["address"], "extra": 1}}),
    ("PUT", "/identity", {**IDENTITY, "subject_id": "00000000-0000-4000-8000-000000000000"}),
    ("PUT", "/identity", {**IDENTITY, "__proto__": {"admin": True}}),
    # profile: wrong types, bounds, unknown fields
    ("PATCH", "/profile", {"postal_code": "4000", "skills": "skill.tig-welding"}),
    ("PATCH", "/profile", {"postal_code": "4000", "skills": [["skill.tig-welding"]]}),
    ("PATCH", "/profile", {"postal_code": "4000", "skills": ["skill.tig-welding"] * 101}),
    ("PATCH", "/profile", {"postal_code": "4000", "languages": [{"code": "fr", "level": "B2"}] * 31}),
    ("PATCH", "/profile", {"postal_code": "4000", "languages": {"code": "fr", "level": "B2"}}),
    ("PATCH", "/profile", {"postal_code": "4000", "mobility_radius_km": 501}),
    ("PATCH", "/profile", {"postal_code": "4000", "mobility_radius_km": -1}),
    ("PATCH", "/profile", {"postal_code": "4000", "mobility_radius_km": True}),
    ("PATCH", "/profile", {"postal_code": "4000", "education": [{"title": "x", "year": 1949}]}),
    ("PATCH", "/profile", {"postal_code": "4000", "experience": [{"title": "x", "start": "yesterday"}]}),
    ("PATCH", "/profile", {"postal_code": "4000", "provenance": {"skills": {"source": "advisor"}}}),
    ("PATCH", "/profile", {"postal_code": "../../etc"}),
    # contacts and activities
    ("POST", "/contacts", {**CONTACT, "summary": "x" * 4001}),
    ("POST", "/contacts", {**CONTACT, "occurred_at": 1732100000}),
    ("POST", "/contacts", {**CONTACT, "occurred_at": "2026-13-45T10:00:00+01:00"}),
    ("POST", "/contacts", {**CONTACT, "recorded_by": "00000000-0000-4000-8000-000000000000"}),
    ("POST", "/contacts", {**CONTACT, "id": "00000000-0000-4000-8000-000000000000"}),
    ("POST", "/activities", {**ACTIVITY, "kind": "Training"}),
    ("POST", "/activities", {**ACTIVITY, "description": None}),
    ("POST", "/activities", [ACTIVITY, ACTIVITY]),
]


@pytest.mark.parametrize(("method", "suffix", "body"), BAD_BODIES, ids=[f"{m} {s} #{i}" for i, (m, s, _) in enumerate(BAD_BODIES)])
def test_wrong_shapes_are_refused_and_change_nothing(client, rt, seeker: Person, advisor: Person, method, suffix, body) -> None:
    fill_dossier(client, seeker, advisor)
    before, rows = dossier_of(client, seeker), count_rows(rt, seeker.subject_id)
    caller = advisor if suffix == "/contacts" else seeker
    response = client.open(base(seeker) + suffix, method=method, json=body, headers=caller.auth)
    assert_problem(response, 422, "validation-error")
    assert dossier_of(client, seeker) == before
    assert count_rows(rt, seeker.subject_id) == rows


@pytest.mark.parametrize("raw", [
    '{"postal_code": "4000", "mobility_radius_km": NaN}',
    '{"postal_code": "4000", "mobility_radius_km": Infinity}',
    '{"postal_code": "4000", "mobility_radius_km": -Infinity}',
    '{"postal_code": "4000", "mobility_radius_km": 1e400}',
    '{"postal_code": "4000", "education": [{"title": "x", "year": NaN}]}',
    '{"postal_code": NaN}',
    '{"postal_code": "4000", "mobility_radius_km": 1' + "0" * 5000 + "}",
])
def test_non_finite_and_absurd_numbers_are_refused(client, seeker: Person, raw: str) -> None:
    before = dossier_of(client, seeker)
    response = client.patch(base(seeker) + "/profile", data=raw, headers=json_headers(seeker))
    assert response.status_code in (400, 422)
    assert_problem(response, response.status_code)
    assert dossier_of(client, seeker) == before


def test_fractional_integers_are_refused_not_truncated(client, seeker: Person) -> None:
    for body in ({"mobility_radius_km": 2.5}, {"education": [{"title": "x", "year": 2005.7}]}):
        response = client.patch(base(seeker) + "/profile", json=body, headers=seeker.auth)
        assert response.status_code == 422, response.get_json()


@pytest.mark.parametrize(("suffix", "body"), [
    ("/profile", {"postal_code": "4000\n"}),
    ("/profile", {"languages": [{"code": "fr\n", "level": "B2"}]}),
    ("/identity", {"name": "x", "phone": "+32 470 12 34 56\n"}),
    ("/identity", {"name": "x", "address": {"street": "x", "postal_code": "4000\n", "city": "y", "country": "BE\n"}}),
])
def test_a_trailing_newline_does_not_pass_pattern_validation(client, seeker: Person, suffix: str, body) -> None:
    method = "PATCH" if suffix == "/profile" else "PUT"
    response = client.open(base(seeker) + suffix, method=method, json=body, headers=seeker.auth)
    assert_problem(response, 422, "validation-error")
    assert "\\n" not in json.dumps(dossier_of(client, seeker))


@pytest.mark.parametrize(("raw", "status"), [
    ("[]", 422), ('"a string"', 422), ("42", 422), ("true", 422), ("null", 422), ("", 422),
    ('{"name": "x"} trailing', 400), ('{"name": "x"', 400), ("{'name': 'x'}", 400), ('{"name": "x" /* c */}', 400),
    (b'{"name": "\xff\xfe"}', 400), ('{"name": "x",}', 400), ("\x00", 400),
])
def test_bodies_that_are_not_a_json_object_are_refused(client, seeker: Person, raw, status: int) -> None:
    assert client.put(base(seeker) + "/identity", json=IDENTITY, headers=seeker.auth).status_code == 200
    before = dossier_of(client, seeker)
    response = client.put(base(seeker) + "/identity", data=raw, headers=json_headers(seeker))
    assert_problem(response, status)
    assert dossier_of(client, seeker) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                          "application/xml", "application/jsonp", ""])
def test_non_json_media_types_are_refused(client, seeker: Person, content_type: str) -> None:
    response = client.put(base(seeker) + "/identity", data=json.dumps(IDENTITY),
                          headers={**seeker.auth, "Content-Type": content_type})
    assert_problem(response, 415, "unsupported-media-type")
    assert dossier_of(client, seeker)["identity"]["name"] is None


def test_oversized_bodies_are_refused_whether_declared_or_streamed(client, seeker: Person) -> None:
    assert client.put(base(seeker) + "/identity", json=IDENTITY, headers=seeker.auth).status_code == 200
    before = dossier_of(client, seeker)
    huge = json.dumps({**IDENTITY, "name": "x" * (3 * 1024 * 1024)}).encode()
    response = client.put(base(seeker) + "/identity", data=huge, headers=json_headers(seeker))
    assert_problem(response, 413, "payload-too-large")
    # Chunked, without a Content-Length (as gunicorn passes it on): still bounded, still refused.
    response = client.put(base(seeker) + "/identity", input_stream=io.BytesIO(huge),
                          headers={**json_headers(seeker), "Transfer-Encoding": "chunked"},
                          environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code in (400, 413)
    assert_problem(response, response.status_code)
    assert dossier_of(client, seeker) == before


def test_duplicate_keys_never_store_something_other_than_what_is_answered(client, seeker: Person) -> None:
    raw = '{"name": "First", "name": "Second", "email": "a@example.org", "email": "b@example.org"}'
    response = client.put(base(seeker) + "/identity", data=raw, headers=json_headers(seeker))
    if response.status_code == 200:
        stored = dossier_of(client, seeker)["identity"]
        answered = response.get_json()
        assert stored["name"] == answered["name"] and stored["email"] == answered["email"]
        assert (stored["name"], stored["email"]) in {("First", "a@example.org"), ("Second", "b@example.org")}
        assert lookup(client, _admin(client), email=stored["email"]) == [seeker.subject_id]
        other = "a@example.org" if stored["email"] == "b@example.org" else "b@example.org"
        assert lookup(client, _admin(client), email=other) == []
    else:
        assert_problem(response, response.status_code)
        assert dossier_of(client, seeker)["identity"]["name"] is None


def _admin(client) -> Person:  # type: ignore[no-untyped-def]
    """An admin account for lookups (created once per app)."""
    app = client.application
    cached = app.extensions.get("adversarial.admin")
    if cached is None:
        from core.identity import accounts

        rt = runtime(app)
        info = accounts.create_account(rt, "adversarial-admin", Role.ADMIN)
        cached = Person(info.id, info.username, Role.ADMIN, rt.tokens.issue(info.id, "admin"))
        app.extensions["adversarial.admin"] = cached
    return cached


EXOTIC_TEXT = [
    "Zoe\u0301 Dupont",  # NFD: e + combining acute, must come back unchanged (not normalised)
    "Zoé Dupont",  # NFC
    "\u202eevil\u202c name",  # right-to-left override
    "a\u200db\u200bc\ufeffd",  # zero-width joiner, space, BOM
    "👩🏽‍🔧 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",  # astral plane, emoji sequence
    "\\u0000 and \\\" and </script>",  # escapes that must stay text
    "ǅ ﬁ Ⅻ ẞ İ",  # case-mapping and compatibility oddities
]


@pytest.mark.parametrize("text", EXOTIC_TEXT, ids=[f"text{i}" for i in range(len(EXOTIC_TEXT))])
def test_valid_unicode_round_trips_exactly(client, seeker: Person, advisor: Person, text: str) -> None:
    identity = {"name": text}
    assert client.put(base(seeker) + "/identity", json=identity, headers=seeker.auth).status_code == 200
    contact = client.post(base(seeker) + "/contacts", json={**CONTACT, "summary": text}, headers=advisor.auth)
    assert contact.status_code == 201
    activity = client.post(base(seeker) + "/activities", json={**ACTIVITY, "description": text}, headers=seeker.auth)
    assert activity.status_code == 201
    response = client.get(base(seeker) + "/dossier", headers=seeker.auth)
    assert response.status_code == 200
    dossier = json.loads(response.get_data())  # strict UTF-8 JSON
    assert dossier["identity"]["name"] == text
    assert dossier["contacts"][0]["summary"] == text
    assert dossier["activities"][0]["description"] == text
    assert client.get(base(seeker) + "/export", headers=seeker.auth).status_code == 200


LONE_SURROGATE_WRITES = [
    ("PUT", "/identity", '{"name": "a\\ud800b"}', "seeker"),
    ("PATCH", "/profile", '{"education": [{"title": "\\udfff"}]}', "seeker"),
    ("POST", "/contacts", '{"channel": "phone", "occurred_at": "2026-11-20T10:00:00+01:00", "summary": "\\ud83d"}', "advisor"),
    ("POST", "/activities", '{"kind": "other", "occurred_at": "2026-11-20T10:00:00+01:00", "description": "x\\udc00"}', "seeker"),
]


@pytest.mark.parametrize(("method", "suffix", "raw", "who"), LONE_SURROGATE_WRITES,
                         ids=[f"{m} {s}" for m, s, _, _ in LONE_SURROGATE_WRITES])
def test_lone_surrogates_are_refused_and_never_break_the_dossier(client, seeker: Person, advisor: Person, method, suffix, raw, who) -> None:
    caller = seeker if who == "seeker" else advisor
    response = client.open(base(seeker) + suffix, method=method, data=raw, headers=json_headers(caller))
    assert response.status_code in (400, 422), response.status_code
    assert_problem(response, response.status_code)
    # Whatever was answered, the dossier stays readable by the seeker and their advisor.
    assert client.get(base(seeker) + "/dossier", headers=seeker.auth).status_code == 200
    assert client.get(base(seeker) + "/export", headers=seeker.auth).status_code == 200
    assert client.get(base(seeker) + "/dossier", headers=advisor.auth).status_code == 200


NUL_REFUSED = [
    ("identity-name", "PUT", "{base}/identity", {"name": "nul\u0000byte"}),
    ("profile-code", "PATCH", "{base}/profile", {"skills": ["skill.tig\u0000-welding"]}),
    ("experience-occupation", "PATCH", "{base}/profile", {"experience": [{"title": "x", "occupation": "occ.\u0000"}]}),
    ("contact-summary", "POST", "{base}/contacts", {**CONTACT, "summary": "a\u0000b"}),
    ("lookup", "POST", "/api/v1/seekers/lookup", {"national_id": "85073003328\u0000"}),
]


@pytest.mark.parametrize(("name", "method", "path", "body"), NUL_REFUSED, ids=[r[0] for r in NUL_REFUSED])
def test_nul_characters_in_dossier_input_are_refused(client, seeker: Person, advisor: Person, name, method, path, body) -> None:
    caller = seeker if method in ("PUT", "PATCH") else advisor
    before = dossier_of(client, seeker)
    response = client.open(path.format(base=base(seeker)), method=method, json=body, headers=caller.auth)
    assert_problem(response, 422, "validation-error")
    assert dossier_of(client, seeker) == before


NUL_ELSEWHERE = [
    ("login-username", "POST", "/api/v1/auth/token", {"username": "adm\u0000in", "password": "whatever password"}, False),
    ("taxonomy-query", "GET", "/api/v1/taxonomy/skills?q=we%00ld", None, True),
    ("consent-purpose-in-path", "DELETE", "{base}/consents/profile.matching%00", None, True),
    ("consent-purpose-in-body", "POST", "{base}/consents", {"purpose": "profile.matching\u0000", "notice_version": 1}, True),
]


@pytest.mark.parametrize(("name", "method", "path", "body", "authenticated"), NUL_ELSEWHERE, ids=[r[0] for r in NUL_ELSEWHERE])
def test_nul_characters_never_cause_a_server_error(client, seeker: Person, name, method, path, body, authenticated) -> None:
    response = client.open(path.format(base=base(seeker)), method=method, json=body,
                           headers=seeker.auth if authenticated else {})
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if response.status_code >= 400:
        assert_problem(response, response.status_code)


SURROGATE_IN_ECHOED_KEY = [
    ("identity-unknown-key", "PUT", "{base}/identity", '{"name": "x", "\\ud800": 1}', True),
    ("login-unknown-key", "POST", "/api/v1/auth/token", '{"username": "x", "password": "y", "\\udfff": 1}', False),
    ("publication-purpose-key", "POST", "{base}/publication", '{"notice_versions": {"\\ud800": 1}}', True),
]


@pytest.mark.parametrize(("name", "method", "path", "raw", "authenticated"), SURROGATE_IN_ECHOED_KEY,
                         ids=[r[0] for r in SURROGATE_IN_ECHOED_KEY])
def test_a_lone_surrogate_in_a_key_gets_a_422_problem(app, client, seeker: Person, name, method, path, raw, authenticated) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production, not by raising into the test
    response = client.open(path.format(base=base(seeker)), method=method, data=raw,
                           headers=json_headers(seeker if authenticated else None))
    assert_problem(response, 422, "validation-error")


SURROGATE_TO_THE_DATABASE = [
    ("login-username", "POST", "/api/v1/auth/token", '{"username": "adm\\ud800in", "password": "whatever password"}', False),
    ("consent-purpose", "POST", "{base}/consents", '{"purpose": "profile.matching\\udc00", "notice_version": 1}', True),
]


@pytest.mark.parametrize(("name", "method", "path", "raw", "authenticated"), SURROGATE_TO_THE_DATABASE,
                         ids=[r[0] for r in SURROGATE_TO_THE_DATABASE])
def test_a_lone_surrogate_outside_the_dossier_never_causes_a_server_error(app, client, seeker: Person, name, method, path,
                                                                          raw, authenticated) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.open(path.format(base=base(seeker)), method=method, data=raw,
                           headers=json_headers(seeker if authenticated else None))
    assert response.status_code in (401, 422), response.status_code
    assert_problem(response, response.status_code)


# == partial writes (invariant 7: an error changes nothing) =======================================


def test_a_national_id_conflict_leaves_the_previous_identity_and_indexes_intact(client, make_person, seeker: Person) -> None:
    admin = make_person(Role.ADMIN)
    other = make_person(Role.SEEKER)
    assert client.put(base(seeker) + "/identity", json=IDENTITY, headers=seeker.auth).status_code == 200
    previous = {"name": "Autre Personne", "email": "autre@example.org", "national_id": OTHER_NATIONAL_ID, "phone": "+32 4 222 33 44"}
    assert client.put(base(other) + "/identity", json=previous, headers=other.auth).status_code == 200
    before = dossier_of(client, other)
    # The other seeker tries to take the first seeker's national id, with a new e-mail and name.
    response = client.put(base(other) + "/identity", json={**previous, "name": "Nouveau", "email": "nouveau@example.org",
                                                             "national_id": NATIONAL_ID}, headers=other.auth)
    problem = assert_problem(response, 409, "conflict")
    assert NATIONAL_ID_DIGITS not in json.dumps(problem) and seeker.subject_id not in json.dumps(problem)
    assert dossier_of(client, other) == before
    # The blind indexes are those of the previous identity, for both seekers.
    assert lookup(client, admin, email="autre@example.org") == [other.subject_id]
    assert lookup(client, admin, email="nouveau@example.org") == []
    assert lookup(client, admin, national_id=OTHER_NATIONAL_ID) == [other.subject_id]
    assert lookup(client, admin, national_id=NATIONAL_ID) == [seeker.subject_id]
    assert dossier_of(client, seeker)["identity"]["national_id"] == NATIONAL_ID_DIGITS


def test_an_advisor_cannot_move_a_national_id_between_caseload_seekers(client, rt, make_person, seeker: Person, advisor: Person) -> None:
    from core.identity import accounts

    second = make_person(Role.SEEKER)
    accounts.assign_seeker(rt, advisor.username, second.username)
    assert client.put(base(seeker) + "/identity", json=IDENTITY, headers=advisor.auth).status_code == 200
    response = client.put(base(second) + "/identity", json={**IDENTITY, "name": "Second"}, headers=advisor.auth)
    assert_problem(response, 409, "conflict")
    assert dossier_of(client, second)["identity"]["name"] is None
    assert dossier_of(client, seeker)["identity"]["name"] == IDENTITY["name"]


@pytest.mark.parametrize("bad_part", [
    {"skills": ["skill.does-not-exist"]},
    {"occupations": ["occ.does-not-exist"]},
    {"experience": [{"title": "x", "occupation": "occ.does-not-exist"}]},
    {"licences": ["Q"]},
    {"languages": [{"code": "fr", "level": "fluent"}]},
    {"available_from": "2027-02-30"},
])
def test_a_profile_patch_with_one_bad_field_changes_no_field(client, seeker: Person, advisor: Person, bad_part) -> None:
    fill_dossier(client, seeker, advisor)
    before = dossier_of(client, seeker)
    body = {"postal_code": "1000", "languages": [{"code": "nl", "level": "B1"}], "mobility_radius_km": 10,
            "skills": ["skill.mig-mag-welding"], **bad_part}
    response = client.patch(base(seeker) + "/profile", json=body, headers=seeker.auth)
    assert_problem(response, 422, "validation-error")
    after = dossier_of(client, seeker)
    assert after == before
    assert after["profile"]["provenance"]["skills"]["source"] == "advisor"


@pytest.mark.parametrize("body", [
    {"field": "skills", "evidence": "x" * 1001},
    {"field": "skills", "evidence": ""},
    {"field": "skills"},
    {"field": "name", "evidence": "x"},
    {"field": "provenance", "evidence": "x"},
    {"field": "__class__", "evidence": "x"},
    {"field": ["skills"], "evidence": "x"},
    {"field": "skills", "evidence": "x", "validated_by": "00000000-0000-4000-8000-000000000000"},
    {"field": "skills", "evidence": "x", "source": "advisor"},
])
def test_bad_validation_requests_change_nothing(client, seeker: Person, advisor: Person, body) -> None:
    assert client.patch(base(seeker) + "/profile", json=PROFILE, headers=seeker.auth).status_code == 200
    before = dossier_of(client, seeker)
    response = client.post(base(seeker) + "/profile/validations", json=body, headers=advisor.auth)
    assert_problem(response, 422, "validation-error")
    assert dossier_of(client, seeker) == before


# == error responses never leak ===================================================================

ECHO = "QxEcho4471"


def echo_cases(seeker: Person, advisor: Person) -> list[tuple[str, str, str, Any, dict[str, str], int]]:
    """(label, method, path, body or raw bytes, headers, status): each carries ECHO in a rejected value."""
    b = base(seeker)
    s, a = json_headers(seeker), json_headers(advisor)
    return [
        ("email", "PUT", b + "/identity", {**IDENTITY, "email": f"{ECHO}@@example"}, s, 422),
        ("phone", "PUT", b + "/identity", {**IDENTITY, "phone": f"{ECHO} call me"}, s, 422),
        ("national-id", "PUT", b + "/identity", {**IDENTITY, "national_id": f"{ECHO}-12"}, s, 422),
        ("national-id-digits", "PUT", b + "/identity", {**IDENTITY, "national_id": "85.07.30-033.27"}, s, 422),
        ("birth-date", "PUT", b + "/identity", {**IDENTITY, "birth_date": ECHO}, s, 422),
        ("postal-code", "PUT", b + "/identity", {**IDENTITY, "address": {"street": "x", "postal_code": ECHO + "!", "city": "y"}}, s, 422),
        ("country", "PUT", b + "/identity", {**IDENTITY, "address": {**IDENTITY["address"], "country": ECHO}}, s, 422),
        ("name-too-long", "PUT", b + "/identity", {**IDENTITY, "name": ECHO * 30}, s, 422),
        ("language", "PATCH", b + "/profile", {"languages": [{"code": ECHO, "level": "B2"}]}, s, 422),
        ("level", "PATCH", b + "/profile", {"languages": [{"code": "fr", "level": ECHO}]}, s, 422),
        ("licence", "PATCH", b + "/profile", {"licences": [ECHO]}, s, 422),
        ("contract", "PATCH", b + "/profile", {"contract_types": [ECHO]}, s, 422),
        ("profile-postal", "PATCH", b + "/profile", {"postal_code": ECHO + "!"}, s, 422),
        ("available", "PATCH", b + "/profile", {"available_from": ECHO}, s, 422),
        ("radius", "PATCH", b + "/profile", {"mobility_radius_km": ECHO}, s, 422),
        ("channel", "POST", b + "/contacts", {**CONTACT, "channel": ECHO}, a, 422),
        ("occurred", "POST", b + "/contacts", {**CONTACT, "occurred_at": ECHO}, a, 422),
        ("kind", "POST", b + "/activities", {**ACTIVITY, "kind": ECHO}, s, 422),
        ("validation-field", "POST", b + "/profile/validations", {"field": ECHO, "evidence": "x"}, a, 422),
        ("lookup-email", "POST", "/api/v1/seekers/lookup", {"email": f"{ECHO}@"}, a, 422),
        ("taxonomy-limit", "GET", f"/api/v1/taxonomy/skills?limit={ECHO}", None, seeker.auth, 422),
        ("malformed-json", "PUT", b + "/identity", f'{{"name": "{ECHO}"'.encode(), s, 400),
        ("form-body", "PUT", b + "/identity", f"name={ECHO}".encode(),
         {**seeker.auth, "Content-Type": "application/x-www-form-urlencoded"}, 415),
        ("too-large", "PUT", b + "/identity", json.dumps({"name": ECHO * 200_000}).encode(), s, 413),
        ("bearer", "GET", "/api/v1/me", None, {"Authorization": f"Bearer {ECHO}"}, 401),
        ("bearer-jwt-shape", "GET", "/api/v1/me", None, {"Authorization": f"Bearer {ECHO}.{ECHO}.{ECHO}"}, 401),
        ("login", "POST", "/api/v1/auth/token", {"username": ECHO.lower(), "password": ECHO * 2}, {}, 401),
        ("path", "GET", f"/api/v1/seekers/{ECHO}/dossier", None, seeker.auth, 404),
        ("unknown-route", "GET", f"/api/v1/{ECHO}", None, seeker.auth, 404),
        ("method", "PATCH", f"/healthz?{ECHO}=1", None, {}, 405),
    ]


def test_error_responses_are_problems_that_never_echo_the_value(client, seeker: Person, advisor: Person) -> None:
    seen: set[int] = set()
    for label, method, path, body, headers, status in echo_cases(seeker, advisor):
        kwargs: dict[str, Any] = {"data": body} if isinstance(body, bytes) else {"json": body}
        response = client.open(path, method=method, headers={**headers, "X-Request-ID": f"{ECHO}@example.org"}, **kwargs)
        assert response.status_code == status, (label, response.status_code, response.get_data(as_text=True)[:300])
        assert_problem(response, status)
        text = response.get_data(as_text=True)
        assert ECHO not in text and ECHO.lower() not in text, (label, text[:400])
        assert all(ECHO not in value for value in response.headers.values()), label
        seen.add(status)
    assert seen == {400, 401, 404, 405, 413, 415, 422}


def test_unknown_codes_are_not_echoed(client, seeker: Person) -> None:
    response = client.patch(base(seeker) + "/profile", json={"skills": [f"{ECHO} is my name"], "occupations": [ECHO]},
                            headers=seeker.auth)
    problem = assert_problem(response, 422, "validation-error")
    assert {"skills", "occupations"} <= set(problem.get("errors", {}))
    assert ECHO not in response.get_data(as_text=True)


def test_publication_errors_do_not_echo_the_purposes_sent(client, seeker: Person) -> None:
    response = client.post(base(seeker) + "/publication", json={"notice_versions": {f"{ECHO} my name": 1}}, headers=seeker.auth)
    assert_problem(response, 422, "validation-error")
    assert ECHO not in response.get_data(as_text=True)


def test_an_unexpected_error_is_a_bare_500_problem(client, seeker: Person, monkeypatch, caplog) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"database said: value {ECHO} for subject {seeker.subject_id} violates something")

    monkeypatch.setattr(service, "read_dossier", explode)
    with caplog.at_level(logging.DEBUG, logger="dossier"):
        response = client.get(base(seeker) + "/dossier", headers=seeker.auth)
    problem = assert_problem(response, 500, "internal-error")
    text = response.get_data(as_text=True)
    assert ECHO not in text and "RuntimeError" not in text and "database said" not in text
    assert problem.get("request_id") == response.headers["X-Request-ID"]
    formatted = [JsonFormatter().format(r) for r in caplog.records]
    assert any("unhandled error" in line and "RuntimeError" in line for line in formatted)
    assert not any(ECHO in line or "database said" in line for line in formatted)


# == personal data never reaches the logs ========================================================


def test_no_personal_data_in_the_logs_on_success_or_failure(client, rt, make_person, seeker: Person, advisor: Person,
                                                           monkeypatch, caplog) -> None:
    admin = make_person(Role.ADMIN)
    other = make_person(Role.SEEKER)
    password = f"{MARKER}-secret-password"
    with caplog.at_level(logging.DEBUG, logger="dossier"):
        fill_dossier(client, seeker, advisor)
        b = base(seeker)
        client.get(b + "/dossier", headers=advisor.auth)
        client.get(b + "/export", headers=seeker.auth)
        client.get(b + "/activities", headers=advisor.auth)  # 403 consent-required
        client.put(base(other) + "/identity", json={**IDENTITY, "name": f"{MARKER} thief"}, headers=other.auth)  # 409
        client.put(b + "/identity", json={**IDENTITY, "email": f"{MARKER}@@bad"}, headers=seeker.auth)  # 422
        client.patch(b + "/profile", json={"skills": [f"{MARKER}-unknown"]}, headers=seeker.auth)  # 422
        client.put(b + "/identity", data=f'{{"name": "{MARKER}"'.encode(), headers=json_headers(seeker))  # 400
        client.post("/api/v1/seekers/lookup", json={"national_id": NATIONAL_ID}, headers=admin.auth)
        client.post("/api/v1/seekers/lookup", json={"email": IDENTITY["email"]}, headers=advisor.auth)
        client.post("/api/v1/auth/token", json={"username": MARKER.lower(), "password": password})  # 401
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {MARKER}.{MARKER}.{MARKER}"})  # 401
        client.get(f"/api/v1/taxonomy/skills?q={MARKER}", headers=seeker.auth)
        client.get(b + "/dossier", headers={**seeker.auth, "X-Request-ID": f"{MARKER}@example.org"})
        monkeypatch.setattr(service, "export_dossier", lambda *a, **k: (_ for _ in ()).throw(ValueError(f"{MARKER} {NATIONAL_ID_DIGITS}")))
        client.get(b + "/export", headers=seeker.auth)  # 500
        client.delete(b, headers=seeker.auth)
    logged = [r for r in caplog.records if r.name.startswith("dossier")]
    # Not vacuous: every request above left a line, with the fields the formatter writes out.
    request_lines = [r for r in logged if r.name == "dossier.request"]
    assert len(request_lines) >= 20
    assert {getattr(r, "status", None) for r in request_lines} >= {200, 201, 204, 400, 401, 403, 409, 422, 500}
    needles = [MARKER, MARKER.lower(), NATIONAL_ID, NATIONAL_ID_DIGITS, "470 77 31 31", "Liège", password, "Rue "]
    for record in logged:
        line = JsonFormatter().format(record) + repr(record.args) + record.getMessage()
        for needle in needles:
            assert needle not in line, (needle, line[:400])
        assert seeker.token not in line and admin.token not in line


# == erasure (invariant 6) =======================================================================


def test_erasure_edge_cases(client, rt, cli, make_person, seeker: Person, advisor: Person) -> None:
    fill_dossier(client, seeker, advisor)
    admin = make_person(Role.ADMIN)
    b = base(seeker)
    assert count_rows(rt, seeker.subject_id) > (0, 0)
    assert client.delete(b, headers=seeker.auth).status_code == 204
    # The records went with the key: no ciphertext, and no kind, category or time of any record.
    assert count_rows(rt, seeker.subject_id) == (0, 0)
    # Erasing again: the subject is known to be erased (410), whoever asks with a right to erase.
    assert_problem(client.delete(b, headers=admin.auth), 410, "erased")
    # The erased seeker's token is dead everywhere.
    assert_problem(client.get("/api/v1/me", headers=seeker.auth), 401, "unauthenticated")
    for method, suffix, body in SUBJECT_ENDPOINTS:
        response = client.open(b + suffix, method=method, json=body, headers=seeker.auth)
        assert_problem(response, 401, "unauthenticated")
    # The advisor who had the seeker in their caseload has no relation any more, and learns nothing.
    for method, suffix, body in SUBJECT_ENDPOINTS:
        response = client.open(b + suffix, method=method, json=body, headers=advisor.auth)
        assert response.status_code in (404, 410), (method, suffix, response.status_code)
        assert response.mimetype == "application/problem+json"
        assert MARKER not in response.get_data(as_text=True)
    # The admin reads no content of an erased dossier either.
    for suffix in ("/dossier", "/export", "/activities"):
        response = client.get(b + suffix, headers=admin.auth)
        assert response.status_code in (403, 404, 410) and MARKER not in response.get_data(as_text=True)
    # Nothing was written after the erasure: no new record, no new sealed field.
    assert count_rows(rt, seeker.subject_id) == (0, 0)
    # Lookups find nothing; the national id and e-mail are free for a new dossier.
    assert lookup(client, admin, national_id=NATIONAL_ID) == []
    assert lookup(client, admin, email=IDENTITY["email"]) == []
    newcomer = make_person(Role.SEEKER)
    assert client.put(base(newcomer) + "/identity", json=IDENTITY, headers=newcomer.auth).status_code == 200
    assert lookup(client, admin, national_id=NATIONAL_ID) == [newcomer.subject_id]
    # No new token can be minted for the erased account, under its old or its new username.
    assert cli("token", seeker.username).exit_code != 0
    assert cli("token", f"erased:{seeker.subject_id}").exit_code != 0
    # The username is free again, for a different person: the old token still does not work.
    reborn = make_person(Role.SEEKER, username=seeker.username)
    assert reborn.subject_id != seeker.subject_id and reborn.id != seeker.id
    assert client.get("/api/v1/me", headers=reborn.auth).get_json()["subject_id"] == reborn.subject_id
    assert client.get("/api/v1/me", headers=seeker.auth).status_code == 401
    assert client.get(base(reborn) + "/dossier", headers=reborn.auth).get_json()["identity"]["name"] is None
    assert client.get(b + "/dossier", headers=reborn.auth).status_code == 404
    with rt.engine.connect() as conn:
        assert conn.execute(select(blind_indexes).where(blind_indexes.c.subject_id == seeker.subject_id)).all() == []


def test_erasure_is_refused_to_others_and_then_changes_nothing(client, make_person, seeker: Person, advisor: Person) -> None:
    fill_dossier(client, seeker, advisor)
    before = dossier_of(client, seeker)
    assert_problem(client.delete(base(seeker), headers=advisor.auth), 403, "forbidden")
    for role in (Role.SEEKER, Role.EMPLOYER, Role.AUDITOR, Role.ADVISOR):
        assert_problem(client.delete(base(seeker), headers=make_person(role).auth), 404, "not-found")
    assert dossier_of(client, seeker) == before


def test_erasing_an_unknown_or_wrongly_spelled_subject(client, make_person, seeker: Person) -> None:
    admin = make_person(Role.ADMIN)
    for subject in (str(uuid.uuid4()), seeker.id, "{" + seeker.subject_id + "}"):
        assert client.delete(f"/api/v1/seekers/{subject}", headers=admin.auth).status_code == 404
    assert client.get(base(seeker) + "/dossier", headers=seeker.auth).status_code == 200


# == profile validation and provenance ===========================================================


def test_the_seeker_cannot_forge_provenance(client, seeker: Person, advisor: Person) -> None:
    url = base(seeker) + "/profile"
    forged = [
        {"skills": {"value": ["skill.tig-welding"], "provenance": {"source": "advisor", "validated_by": advisor.id}}},
        {"skills": ["skill.tig-welding"], "provenance": {"skills": {"source": "advisor"}}},
        {"postal_code": {"value": "4000", "provenance": {"source": "advisor"}}},
    ]
    for body in forged:
        assert_problem(client.patch(url, json=body, headers=seeker.auth), 422, "validation-error")
    assert client.patch(url, json={"skills": ["skill.tig-welding"]}, headers=seeker.auth).status_code == 200
    assert_problem(client.post(url + "/validations", json={"field": "skills", "evidence": "self"}, headers=seeker.auth),
                   403, "forbidden")
    provenance = dossier_of(client, seeker)["profile"]["provenance"]["skills"]
    assert provenance["source"] == "seeker" and "validated_by" not in provenance


def test_validation_keeps_the_value_and_lapses_on_change_or_clear(client, seeker: Person, advisor: Person) -> None:
    url = base(seeker) + "/profile"
    assert client.patch(url, json={"postal_code": "4000", "licences": ["B"]}, headers=seeker.auth).status_code == 200
    validated = client.post(url + "/validations", json={"field": "postal_code", "evidence": "Domicile vérifié"}, headers=advisor.auth)
    assert validated.status_code == 201
    assert validated.get_json()["validated_by"] == advisor.id and validated.get_json()["field"] == "postal_code"
    profile = dossier_of(client, seeker)["profile"]
    assert profile["postal_code"] == "4000" and profile["provenance"]["postal_code"]["source"] == "advisor"
    # Another field changing leaves the validation alone.
    profile = client.patch(url, json={"licences": ["B", "C"]}, headers=seeker.auth).get_json()
    assert profile["provenance"]["postal_code"]["source"] == "advisor"
    # Clearing and declaring the same value again is a new declaration, not the validated value.
    assert "postal_code" not in client.patch(url, json={"postal_code": None}, headers=seeker.auth).get_json()
    again = client.patch(url, json={"postal_code": "4000"}, headers=seeker.auth).get_json()
    assert again["provenance"]["postal_code"]["source"] == "seeker"
    assert "validated_by" not in again["provenance"]["postal_code"]
    # A field that shares a category with a validated one is validated on its own, not by association.
    assert "mobility_radius_km" not in again["provenance"]
    assert_problem(client.post(url + "/validations", json={"field": "mobility_radius_km", "evidence": "x"}, headers=advisor.auth),
                   422, "validation-error")


def test_an_unassigned_advisor_cannot_validate(client, make_person, seeker: Person, advisor: Person) -> None:
    assert client.patch(base(seeker) + "/profile", json=PROFILE, headers=seeker.auth).status_code == 200
    stranger = make_person(Role.ADVISOR)
    response = client.post(base(seeker) + "/profile/validations", json={"field": "skills", "evidence": "x"}, headers=stranger.auth)
    assert_problem(response, 404, "not-found")
    assert dossier_of(client, seeker)["profile"]["provenance"]["skills"]["source"] == "seeker"


def test_an_empty_list_cannot_be_validated(client, seeker: Person, advisor: Person) -> None:
    assert client.patch(base(seeker) + "/profile", json={"skills": []}, headers=seeker.auth).status_code == 200
    response = client.post(base(seeker) + "/profile/validations", json={"field": "skills", "evidence": "x"}, headers=advisor.auth)
    assert_problem(response, 422, "validation-error")


@pytest.mark.parametrize("field", ["occupations", "skills", "languages", "education", "experience"])
def test_null_clears_every_profile_field(client, seeker: Person, field: str) -> None:
    values = {"occupations": ["occ.welder"], "skills": ["skill.tig-welding"], "languages": [{"code": "fr", "level": "C2"}],
              "education": [{"title": "CESS"}], "experience": [{"title": "Soudeur"}]}
    assert client.patch(base(seeker) + "/profile", json={field: values[field]}, headers=seeker.auth).status_code == 200
    response = client.patch(base(seeker) + "/profile", json={field: None}, headers=seeker.auth)
    assert response.status_code == 200, response.get_json()
    assert field not in dossier_of(client, seeker)["profile"]


# == consents: receipts and grants (the contract's consent endpoints) =============================


def grant_consent(client, seeker: Person, purpose: str = "profile.matching", headers=None, **extra):  # type: ignore[no-untyped-def]
    return client.post(base(seeker) + "/consents", json={"purpose": purpose, "notice_version": 1, **extra},
                       headers=headers or seeker.auth)


def consent_states(client, seeker: Person) -> dict[str, str]:  # type: ignore[no-untyped-def]
    response = client.get(base(seeker) + "/consents", headers=seeker.auth)
    assert response.status_code == 200
    return {item["purpose"]: item["state"] for item in response.get_json()}


def test_a_receipt_id_reaches_only_its_own_seekers_receipt(client, make_person, seeker: Person, advisor: Person) -> None:
    other = make_person(Role.SEEKER)
    mine = grant_consent(client, seeker).get_json()["receipt_id"]
    theirs = grant_consent(client, other).get_json()["receipt_id"]
    receipts = base(seeker) + "/consents/receipts"
    assert client.get(f"{receipts}/{mine}", headers=seeker.auth).status_code == 200
    assert client.get(f"{receipts}/{mine.upper()}", headers=seeker.auth).get_json()["receipt_id"] == mine
    # Another seeker's receipt id, under my subject or under theirs: not found.
    assert_problem(client.get(f"{receipts}/{theirs}", headers=seeker.auth), 404, "not-found")
    assert_problem(client.get(f"{base(other)}/consents/receipts/{theirs}", headers=seeker.auth), 404, "not-found")
    assert_problem(client.get(f"{base(other)}/consents/receipts/{mine}", headers=other.auth), 404, "not-found")
    # Receipt ids are not subject ids, and other ids are not receipt ids.
    assert client.get(f"/api/v1/seekers/{mine}/consents/receipts", headers=seeker.auth).status_code == 404
    for wrong in (seeker.subject_id, seeker.id, str(uuid.uuid4()), "{" + mine + "}", mine.replace("-", "")):
        assert client.get(f"{receipts}/{wrong}", headers=seeker.auth).status_code == 404, wrong
    # The advisor reads states, never the receipts; the admin neither; others learn nothing.
    admin = make_person(Role.ADMIN)
    for person, status in ((advisor, 403), (admin, 403), (make_person(Role.EMPLOYER), 404), (make_person(Role.AUDITOR), 404)):
        assert client.get(f"{receipts}/{mine}", headers=person.auth).status_code == status, person.role
        listing = client.get(receipts, headers=person.auth)
        assert listing.status_code == status and mine not in listing.get_data(as_text=True)
    listed = client.get(receipts, headers=seeker.auth).get_json()
    assert [r["receipt_id"] for r in listed] == [mine]


def test_a_receipt_is_neither_a_token_nor_a_carrier_of_personal_data(client, seeker: Person) -> None:
    assert client.put(base(seeker) + "/identity", json=IDENTITY, headers=seeker.auth).status_code == 200
    receipt = grant_consent(client, seeker).get_json()
    token = receipt["jws"]
    # Signed by the service, about this seeker, with the receipt key: still not an access token.
    assert_problem(client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 401, "unauthenticated")
    assert client.get(base(seeker) + "/dossier", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    header, payload, _ = token.split(".")
    decoded = base64.urlsafe_b64decode(header + "==").decode() + base64.urlsafe_b64decode(payload + "==").decode()
    for secret in (MARKER, MARKER.lower(), NATIONAL_ID_DIGITS, "470 77 31 31", seeker.username):
        assert secret not in decoded and secret not in json.dumps(receipt)


@pytest.mark.parametrize("body", [
    {"purpose": "dossier.public_task", "notice_version": 1},
    {"purpose": "employer.contact", "notice_version": 1},
    {"purpose": "statistics", "notice_version": 1},
    {"purpose": "PROFILE.MATCHING", "notice_version": 1},
    {"purpose": "profile.matching ", "notice_version": 1},
    {"purpose": "profile.%", "notice_version": 1},
    {"purpose": "profile.matching", "notice_version": 0},
    {"purpose": "profile.matching", "notice_version": "1"},
    {"purpose": "profile.matching", "notice_version": 1.0},
    {"purpose": "profile.matching", "notice_version": True},
    {"purpose": "profile.matching", "notice_version": 1, "channel": "in_person"},
    {"purpose": "profile.matching", "notice_version": 1, "expires_at": "2000-01-01T00:00:00+00:00"},
    {"purpose": "profile.matching", "notice_version": 1, "expires_at": "2999-01-01T00:00:00"},
    {"purpose": "profile.matching", "notice_version": 1, "subject_id": "00000000-0000-4000-8000-000000000000"},
    {"purpose": ["profile.matching", "activity.advisor_access"], "notice_version": 1},
])
def test_bad_grants_are_refused_and_change_no_consent(client, seeker: Person, body) -> None:
    before = consent_states(client, seeker)
    response = client.post(base(seeker) + "/consents", json=body, headers=seeker.auth)
    assert response.status_code in (409, 422), (response.status_code, response.get_data(as_text=True)[:300])
    assert_problem(response, response.status_code)
    assert consent_states(client, seeker) == before
    assert client.get(base(seeker) + "/consents/receipts", headers=seeker.auth).get_json() == []


def test_only_the_seeker_or_an_in_person_advisor_moves_a_consent(client, rt, make_person, seeker: Person, advisor: Person) -> None:
    from core.identity import accounts

    other_seeker = make_person(Role.SEEKER)
    other_advisor = make_person(Role.ADVISOR)
    accounts.assign_seeker(rt, other_advisor.username, other_seeker.username)
    admin = make_person(Role.ADMIN)
    attempts = [
        (other_seeker, {}, 404), (other_advisor, {"channel": "in_person"}, 404), (make_person(Role.EMPLOYER), {}, 404),
        (make_person(Role.AUDITOR), {}, 404), (admin, {}, 403), (advisor, {}, 422), (advisor, {"channel": "web"}, 422),
    ]
    for person, extra, status in attempts:
        response = grant_consent(client, seeker, "activity.advisor_access", headers=person.auth, **extra)
        assert_problem(response, status)
        response = client.post(base(seeker) + "/publication", json=extra or None, headers=person.auth)
        assert response.status_code == status, (person.role, response.status_code)
    assert set(consent_states(client, seeker).values()) == {"never"}
    # Once granted, the same people cannot withdraw it either.
    assert grant_consent(client, seeker, "activity.advisor_access").status_code == 201
    for person, extra, status in attempts:
        query = "?channel=" + extra["channel"] if extra else ""
        response = client.delete(base(seeker) + "/consents/activity.advisor_access" + query, headers=person.auth)
        assert response.status_code == status, (person.role, response.status_code)
    assert consent_states(client, seeker)["activity.advisor_access"] == "granted"


@pytest.mark.parametrize("purpose", ["..", "profile.matching%2F..", "%2e%2e%2fdossier", "receipts", "profile.matching.",
                                     "x" * 300, "profile.matching;drop", "activity.advisor_access%20"])
def test_withdrawal_path_tricks_change_nothing(client, seeker: Person, purpose: str) -> None:
    assert grant_consent(client, seeker).status_code == 201
    response = client.delete(base(seeker) + "/consents/" + purpose, headers=seeker.auth)
    assert response.status_code in (404, 405, 409, 422), response.status_code
    assert response.mimetype == "application/problem+json"
    assert consent_states(client, seeker)["profile.matching"] == "granted"


def test_a_streamed_body_is_not_ignored_by_the_publication(client, seeker: Person) -> None:
    body = json.dumps({"notice_versions": {"profile.matching": 99}}).encode()
    plain = client.post(base(seeker) + "/publication", data=body, headers=json_headers(seeker))
    assert_problem(plain, 409, "conflict")
    streamed = client.post(base(seeker) + "/publication", input_stream=io.BytesIO(body),
                           headers={**json_headers(seeker), "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})
    assert_problem(streamed, 409, "conflict")
    assert set(consent_states(client, seeker).values()) == {"never"}


def test_consents_after_erasure(client, make_person, seeker: Person, advisor: Person) -> None:
    assert client.post(base(seeker) + "/publication", headers=seeker.auth).status_code == 201
    assert client.post(base(seeker) + "/activities", json=ACTIVITY, headers=seeker.auth).status_code == 201
    assert client.get(base(seeker) + "/activities", headers=advisor.auth).status_code == 200
    assert client.delete(base(seeker), headers=seeker.auth).status_code == 204
    # The consent that was live does not keep the advisor's access open.
    for suffix in ("/activities", "/dossier", "/consents", "/consents/receipts"):
        response = client.get(base(seeker) + suffix, headers=advisor.auth)
        assert response.status_code in (404, 410), (suffix, response.status_code)
        assert ACTIVITY["description"] not in response.get_data(as_text=True)
    assert client.post(base(seeker) + "/consents", json={"purpose": "profile.matching", "notice_version": 1,
                                                          "channel": "in_person"}, headers=advisor.auth).status_code in (404, 410)
    for method, suffix in (("GET", "/consents"), ("POST", "/publication"), ("DELETE", "/publication")):
        assert client.open(base(seeker) + suffix, method=method, headers=seeker.auth).status_code == 401


# == concurrency =================================================================================

# How long the first request waits, in the middle of its transaction, for the second to finish.
# A second request that takes a lock the first holds stays blocked until the first commits: both
# must then succeed one after the other. One that does not block commits in between: the first
# must then notice (a conflict) or be unaffected, and never answer 500 or lose the second's write.
WINDOW = 1.5


def interleave(monkeypatch, owner: Any, name: str, action: Callable[[], Any], *, before: bool = False,
               signal: threading.Event | None = None) -> dict[str, Any]:
    """Start ``action`` in another thread the first time the test's thread calls ``owner.name``."""
    real = getattr(owner, name)
    main = threading.current_thread()
    state: dict[str, Any] = {"fired": False, "result": None, "error": None, "thread": None, "done_in_window": False}

    def run() -> None:
        try:
            state["result"] = action()
        except BaseException as exc:
            state["error"] = exc

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if state["fired"] or threading.current_thread() is not main:
            return real(*args, **kwargs)
        state["fired"] = True
        value = None if before else real(*args, **kwargs)
        thread = threading.Thread(target=run, daemon=True)
        state["thread"] = thread
        thread.start()
        if signal is not None:
            signal.wait(WINDOW)
        else:
            thread.join(WINDOW)
        state["done_in_window"] = not thread.is_alive() or (signal is not None and signal.is_set())
        return real(*args, **kwargs) if before else value

    monkeypatch.setattr(owner, name, wrapper)
    return state


def finished(state: dict[str, Any]) -> Any:
    assert state["fired"], "the interleaving point was never reached"
    state["thread"].join(60)
    assert not state["thread"].is_alive(), "the second request never finished"
    assert state["error"] is None, state["error"]
    return state["result"]


def test_a_validation_racing_a_change_never_validates_a_value_the_advisor_did_not_see(app, client, monkeypatch,
                                                                                     seeker: Person, advisor: Person) -> None:
    url = base(seeker) + "/profile"
    assert client.patch(url, json={"skills": ["skill.tig-welding"]}, headers=seeker.auth).status_code == 200
    changed = ["skill.mig-mag-welding"]
    # The advisor has read the declared value; before they write, the seeker changes it.
    state = interleave(monkeypatch, service, "_profile_values",
                       lambda: app.test_client().patch(url, json={"skills": changed}, headers=seeker.auth).status_code)
    response = client.post(url + "/validations", json={"field": "skills", "evidence": "Attestation TIG"}, headers=advisor.auth)
    assert finished(state) == 200
    monkeypatch.undo()
    profile = dossier_of(client, seeker)["profile"]
    assert profile["skills"] == changed, "the seeker's change was lost"
    assert profile["provenance"]["skills"]["source"] == "seeker", "a value the advisor never saw is marked validated"
    if state["done_in_window"]:
        # The change committed first: the validation of the old value must be refused.
        assert_problem(response, 409, "conflict")
    else:
        # The change waited for the validation, then made it lapse.
        assert response.status_code == 201, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("other_writer", ["same-seeker-other-field", "same-seeker-same-field", "unrelated-seeker"])
def test_two_interleaved_writers_both_succeed(app, client, monkeypatch, make_person, seeker: Person, other_writer: str) -> None:
    second = make_person(Role.SEEKER) if other_writer == "unrelated-seeker" else seeker
    field, value = ("skills", ["skill.mig-mag-welding"]) if other_writer == "same-seeker-same-field" else \
        ("languages", [{"code": "nl", "level": "B2"}])
    state = interleave(monkeypatch, service, "_profile_values",
                       lambda: app.test_client().patch(base(second) + "/profile", json={field: value},
                                                       headers=second.auth).status_code)
    response = client.patch(base(seeker) + "/profile", json={"skills": ["skill.tig-welding"]}, headers=seeker.auth)
    assert finished(state) == 200
    monkeypatch.undo()
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    if other_writer == "same-seeker-same-field":
        # Last writer wins, but the winner is a whole value with its own provenance, never a mix.
        profile = dossier_of(client, seeker)["profile"]
        assert profile["skills"] in (["skill.tig-welding"], ["skill.mig-mag-welding"])
        assert profile["provenance"]["skills"]["source"] == "seeker"
        return
    assert dossier_of(client, seeker)["profile"]["skills"] == ["skill.tig-welding"]
    assert dossier_of(client, second)["profile"][field] == value


def test_two_seekers_claiming_one_national_id_at_once(app, client, monkeypatch, make_person, seeker: Person) -> None:
    admin = make_person(Role.ADMIN)
    rival = make_person(Role.SEEKER)
    # The first claim has checked that the number is free; the rival claims it before the first writes.
    state = interleave(monkeypatch, store, "subjects_by_index",
                       lambda: app.test_client().put(base(rival) + "/identity", json={**IDENTITY, "name": "Rival"},
                                                     headers=rival.auth))
    response = client.put(base(seeker) + "/identity", json=IDENTITY, headers=seeker.auth)
    rival_response = finished(state)
    monkeypatch.undo()
    statuses = sorted([response.status_code, rival_response.status_code])
    assert statuses == [200, 409], statuses
    winner, loser, lost = (seeker, rival, rival_response) if response.status_code == 200 else (rival, seeker, response)
    assert_problem(lost, 409, "conflict")
    assert lookup(client, admin, national_id=NATIONAL_ID) == [winner.subject_id]
    assert dossier_of(client, loser)["identity"]["name"] is None
    assert dossier_of(client, winner)["identity"]["national_id"] == NATIONAL_ID_DIGITS


def test_an_identity_write_overlapping_an_erasure(app, client, monkeypatch, make_person, seeker: Person) -> None:
    admin = make_person(Role.ADMIN)
    erased = threading.Event()
    monkeypatch.setattr(runtime(app).work, "forget_old_versions", erased.set)
    # The admin erases while the seeker's identity write is between its authorisation and its writes.
    state = interleave(monkeypatch, store, "singleton_record_id",
                       lambda: app.test_client().delete(base(seeker), headers=admin.auth).status_code,
                       before=True, signal=erased)
    response = client.put(base(seeker) + "/identity", json=IDENTITY, headers=seeker.auth)
    assert finished(state) == 204
    monkeypatch.undo()
    # Whichever went first, the erased subject keeps no blind index: the number finds nobody and is free.
    assert lookup(client, admin, national_id=NATIONAL_ID) == [], "an erased subject is still found by its national register number"
    assert lookup(client, admin, email=IDENTITY["email"]) == []
    newcomer = make_person(Role.SEEKER)
    claim = client.put(base(newcomer) + "/identity", json=IDENTITY, headers=newcomer.auth)
    assert claim.status_code == 200, "the national id of an erased person stays taken"
    if state["done_in_window"]:
        assert response.status_code in (404, 410), response.status_code  # the erasure came first
        assert_problem(response, response.status_code)
    else:
        assert response.status_code == 200, response.status_code  # the write came first, then the erasure

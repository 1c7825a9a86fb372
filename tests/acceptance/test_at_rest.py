"""Invariant 1 and 6: no plaintext personal data at rest, and erasure by key destruction.

A marker value is written through the API into every kind of field; the raw database bytes (the
SQLite file and its WAL, or a pg_dump of PostgreSQL) and the logs must not contain it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from config.logging import JsonFormatter
from core.crypto.interfaces import KeyProviderError
from core.crypto.rotation import rotate_keys
from core.crypto.sealing import SealError, WrappedKey
from core.dossier import store
from core.models import records, sealed_fields, subjects
from tests.conftest import Person

MARKER = "QxMarker9931"


def write_markers(client, seeker: Person, advisor: Person) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/v1/seekers/{seeker.subject_id}"
    identity = {"name": f"{MARKER} Name", "email": f"{MARKER.lower()}@example.org", "phone": "+32 470 99 31 31",
                "national_id": "85.07.30-033.28", "birth_date": "1985-07-30",
                "address": {"street": f"Rue {MARKER} 1", "postal_code": "4000", "city": f"{MARKER}ville"}}
    assert client.put(base + "/identity", json=identity, headers=seeker.auth).status_code == 200
    profile = {"education": [{"title": f"{MARKER} diploma"}], "experience": [{"title": f"{MARKER} job", "employer": MARKER}]}
    assert client.patch(base + "/profile", json=profile, headers=seeker.auth).status_code == 200
    assert client.post(base + "/profile/validations", json={"field": "education", "evidence": f"{MARKER} certificate"},
                       headers=advisor.auth).status_code == 201
    assert client.post(base + "/contacts", json={"channel": "phone", "occurred_at": "2026-11-20T10:00:00+01:00",
                                                 "summary": f"{MARKER} contact"}, headers=advisor.auth).status_code == 201
    assert client.post(base + "/activities", json={"kind": "application", "occurred_at": "2026-11-20T10:00:00+01:00",
                                                   "description": f"{MARKER} activity"}, headers=seeker.auth).status_code == 201
    assert MARKER in client.get(base + "/dossier", headers=seeker.auth).get_data(as_text=True)


def raw_database_bytes(rt) -> bytes:  # type: ignore[no-untyped-def]
    url = make_url(rt.settings.database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed; cannot inspect PostgreSQL's bytes")
    dump = subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", url.set(drivername="postgresql").render_as_string(hide_password=False)],
        capture_output=True, check=True,
    )
    return dump.stdout


def test_markers_are_not_in_the_database_bytes_or_the_logs(client, rt, seeker: Person, advisor: Person, caplog) -> None:
    with caplog.at_level(logging.DEBUG, logger="dossier"):
        write_markers(client, seeker, advisor)
    raw = raw_database_bytes(rt)
    assert len(raw) > 10_000
    # The log lines as they are written (JSON with every extra field), not only their messages.
    logged = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert '"route"' in logged and '"request_id"' in logged
    for needle in (MARKER, MARKER.lower(), "85073003328", "+32 470 99 31 31"):
        assert needle.encode() not in raw, f"{needle!r} found in clear in the database"
        assert needle not in logged
    # The ciphertexts are there: the data was written, sealed.
    with rt.engine.connect() as conn:
        assert conn.execute(select(sealed_fields.c.ciphertext).where(sealed_fields.c.subject_id == seeker.subject_id)).all()


def test_a_ciphertext_moved_to_another_seeker_or_field_does_not_open(client, rt, seeker: Person, advisor: Person, make_person) -> None:
    from core.identity.roles import Role

    other = make_person(Role.SEEKER)
    write_markers(client, seeker, advisor)
    assert client.put(f"/api/v1/seekers/{other.subject_id}/identity", json={"name": "Autre Personne"},
                      headers=other.auth).status_code == 200
    with rt.engine.begin() as conn:
        name = conn.execute(select(sealed_fields)
                            .where(sealed_fields.c.subject_id == seeker.subject_id, sealed_fields.c.field == "name")).one()
        other_identity = conn.execute(select(records.c.id)
                                      .where(records.c.subject_id == other.subject_id, records.c.kind == "identity")).scalar_one()
        conn.execute(update(sealed_fields).where(sealed_fields.c.record_id == other_identity, sealed_fields.c.field == "name")
                     .values(ciphertext=name.ciphertext))
        conn.execute(update(sealed_fields).where(sealed_fields.c.record_id == name.record_id, sealed_fields.c.field == "email")
                     .values(ciphertext=name.ciphertext))
    # Moved ciphertexts fail authentication: the reads fail closed, with a problem and no value.
    for person in (other, seeker):
        response = client.get(f"/api/v1/seekers/{person.subject_id}/dossier", headers=person.auth)
        assert response.status_code == 500 and MARKER not in response.get_data(as_text=True)
    key = key_of(rt, other.subject_id)
    with pytest.raises(SealError):
        rt.sealer.cipher(other.subject_id, key).open(other_identity, "name", name.ciphertext)


def key_of(rt, subject_id: str) -> WrappedKey:  # type: ignore[no-untyped-def]
    with rt.engine.connect() as conn:
        row = conn.execute(select(subjects.c.kek_version, subjects.c.wrapped_dek).where(subjects.c.id == subject_id)).one()
    return WrappedKey(row.kek_version, row.wrapped_dek)


def test_erasure_leaves_nothing_readable(client, rt, make_person, seeker: Person, advisor: Person) -> None:
    from core.identity.roles import Role

    write_markers(client, seeker, advisor)
    key = key_of(rt, seeker.subject_id)
    assert client.delete(f"/api/v1/seekers/{seeker.subject_id}", headers=seeker.auth).status_code == 204
    with rt.engine.connect() as conn:
        row = conn.execute(select(subjects).where(subjects.c.id == seeker.subject_id)).one()
        assert row.wrapped_dek is None and row.kek_version is None and row.erased_at is not None
        # The ciphertext is still there, and nothing can open it: the only wrapped key is gone.
        with pytest.raises(KeyProviderError):
            store.load_records(conn, rt.sealer.cipher(seeker.subject_id, WrappedKey(1, b"")), seeker.subject_id, ["identity.name"])
    assert key.wrapped not in raw_database_bytes(rt)
    # Nobody reaches the seeker any more: the account is closed, the caseload emptied.
    assert client.get(f"/api/v1/seekers/{seeker.subject_id}/dossier", headers=seeker.auth).status_code == 401
    assert client.get(f"/api/v1/seekers/{seeker.subject_id}/dossier", headers=advisor.auth).status_code == 404
    admin = make_person(Role.ADMIN)
    assert client.delete(f"/api/v1/seekers/{seeker.subject_id}", headers=admin.auth).status_code == 410
    assert client.post("/api/v1/seekers/lookup", json={"national_id": "85073003328"}, headers=admin.auth).get_json() == {"subject_ids": []}


def test_rotation_while_reads_run_loses_no_read(client, rt, make_person, seeker: Person, advisor: Person) -> None:
    from core.identity.roles import Role

    write_markers(client, seeker, advisor)
    others = [make_person(Role.SEEKER) for _ in range(5)]
    failures: list[int] = []
    reads = [0]
    stop = threading.Event()

    def reader() -> None:
        local = client.application.test_client()
        while not stop.is_set():
            for person in (seeker, *others):
                status = local.get(f"/api/v1/seekers/{person.subject_id}/dossier", headers=person.auth).status_code
                reads[0] += 1
                if status != 200:
                    failures.append(status)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        reports = [rotate_keys(rt.work, rt.sealer, rt.settings.KEYRING_RELOAD_INTERVAL, batch=2) for _ in range(3)]
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == [] and reads[0] > 0
    assert [r.version for r in reports] == [2, 3, 4]
    assert all(r.rewrapped >= 6 for r in reports)
    with rt.engine.connect() as conn:
        assert set(conn.execute(select(subjects.c.kek_version)).scalars()) == {4}
    assert MARKER in client.get(f"/api/v1/seekers/{seeker.subject_id}/dossier", headers=seeker.auth).get_data(as_text=True)


def test_the_keyring_stays_private_after_rotation(rt) -> None:
    rotate_keys(rt.work, rt.sealer, rt.settings.KEYRING_RELOAD_INTERVAL)
    assert os.stat(rt.keys.path).st_mode & 0o077 == 0

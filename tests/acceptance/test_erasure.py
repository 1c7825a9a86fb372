"""Erasure is cryptographic, within a stated window (docs/erasure.md).

Erasing a seeker removes their wrapped data key, their records and the plain metadata describing
them. Copies of the wrapped key outlive it (a backup taken before, PostgreSQL's dead row versions,
SQLite's WAL while a reader holds an old snapshot); each still opens with the keyring until
`dossier keys rotate --retire` destroys the key-encryption keys it was wrapped under, and nothing
opens afterwards. On SQLite, an erasure during a long read answers at once, lets other writers
through, and empties the WAL once the reader ends.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from core.crypto.interfaces import KeyProviderError
from core.crypto.keyring import LocalKeyring
from core.crypto.sealing import Sealer, WrappedKey
from core.models import records, sealed_fields, subjects
from core.plugins.models import plugin_events
from tests.acceptance.test_at_rest import MARKER, key_of, raw_database_bytes, write_markers
from tests.conftest import POSTGRES_URL, Person

IDENTITY = {"name": "Autre Personne", "email": "autre@example.org"}


def erase(client, seeker: Person) -> float:  # type: ignore[no-untyped-def]
    """Erase the seeker as they ask for it; the seconds the answer took."""
    started = time.monotonic()
    assert client.delete(f"/api/v1/seekers/{seeker.subject_id}", headers=seeker.auth).status_code == 204
    return time.monotonic() - started


def run(cli, *args: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.output)
    return parsed


def keyring_document(rt) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    document: dict[str, Any] = json.loads(Path(rt.keys.path).read_text(encoding="utf-8"))
    return document


def sealed_rows(rt, subject_id: str) -> list[Any]:  # type: ignore[no-untyped-def]
    """The seeker's sealed fields as a backup holds them."""
    with rt.engine.connect() as conn:
        return list(conn.execute(select(sealed_fields.c.record_id, sealed_fields.c.field, sealed_fields.c.ciphertext)
                                 .where(sealed_fields.c.subject_id == subject_id)).all())


def open_name(keyring_path: Path, subject_id: str, key: WrappedKey, rows: list[Any]) -> str:
    """What someone holding a copy of the database and the keyring file reads of the seeker's name."""
    cipher = Sealer(LocalKeyring(keyring_path, reload_interval=0)).cipher(subject_id, key)
    (name,) = [r for r in rows if r.field == "name"]
    return str(json.loads(cipher.open(name.record_id, name.field, name.ciphertext)))


def assert_readable(client, person: Person) -> None:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/seekers/{person.subject_id}/dossier", headers=person.auth)
    assert response.status_code == 200 and response.get_json()["identity"]["name"] == IDENTITY["name"]


# -- retiring key-encryption keys -------------------------------------------------------------


def test_keys_retire_destroys_the_versions_no_data_key_uses(client, cli, rt, make_person) -> None:
    from core.identity.roles import Role

    other = make_person(Role.SEEKER)
    assert client.put(f"/api/v1/seekers/{other.subject_id}/identity", json=IDENTITY, headers=other.auth).status_code == 200
    old_kek = keyring_document(rt)["keks"]["1"]
    assert run(cli, "keys", "rotate") == {"kek_version": 2, "rewrapped": 1}
    assert run(cli, "keys", "retire") == {"retired": [1]}
    document = keyring_document(rt)
    assert list(document["keks"]) == ["2"] and document["active"] == 2
    assert old_kek not in Path(rt.keys.path).read_text(encoding="utf-8"), "the retired KEK is still in the keyring file"
    assert os.stat(rt.keys.path).st_mode & 0o077 == 0, "the keyring must stay private (0600)"
    assert_readable(client, other)
    # Nothing left to retire: the active version never is.
    assert run(cli, "keys", "retire") == {"retired": []}
    assert list(keyring_document(rt)["keks"]) == ["2"]


def test_keys_retire_refuses_while_a_version_still_wraps_a_data_key(client, cli, rt, make_person) -> None:
    from core.identity.roles import Role

    other = make_person(Role.SEEKER)
    assert client.put(f"/api/v1/seekers/{other.subject_id}/identity", json=IDENTITY, headers=other.auth).status_code == 200
    rt.keys.rotate()  # a rotation interrupted before it rewrapped anything
    before = Path(rt.keys.path).read_bytes()
    result = cli("keys", "retire")
    assert result.exit_code == 1
    assert "[1]" in result.output and "dossier keys rotate" in result.output
    assert Path(rt.keys.path).read_bytes() == before, "a refused retirement changed the keyring"
    assert_readable(client, other)


def test_the_active_version_is_never_retired(rt) -> None:
    active = rt.keys.active_version()
    with pytest.raises(KeyProviderError):
        rt.keys.retire([active])
    assert rt.keys.versions() == [active]


def test_keys_rotate_retire_rotates_rewraps_and_retires_in_one_step(client, cli, rt, make_person) -> None:
    from core.identity.roles import Role

    people = [make_person(Role.SEEKER) for _ in range(3)]
    for person in people:
        assert client.put(f"/api/v1/seekers/{person.subject_id}/identity", json=IDENTITY, headers=person.auth).status_code == 200
    assert run(cli, "keys", "rotate", "--retire") == {"kek_version": 2, "rewrapped": 3, "retired": [1]}
    assert run(cli, "keys", "rotate", "--retire") == {"kek_version": 3, "rewrapped": 3, "retired": [2]}
    assert list(keyring_document(rt)["keks"]) == ["3"]
    for person in people:
        assert_readable(client, person)


def test_a_worker_that_loaded_the_keyring_before_a_retirement_keeps_serving(client, cli, rt, seeker: Person) -> None:
    assert client.put(f"/api/v1/seekers/{seeker.subject_id}/identity", json=IDENTITY, headers=seeker.auth).status_code == 200
    old = key_of(rt, seeker.subject_id)
    worker = LocalKeyring(rt.keys.path, reload_interval=0)  # another process, loaded before
    assert worker.versions() == [1]
    run(cli, "keys", "rotate", "--retire")
    new = key_of(rt, seeker.subject_id)
    # It reads the new wrapping (reloading), and only a version that was retired is refused.
    assert worker.unwrap(new.kek_version, new.wrapped, seeker.subject_id.encode())
    with pytest.raises(KeyProviderError):
        worker.unwrap(old.kek_version, old.wrapped, seeker.subject_id.encode())
    assert worker.versions() == [2]
    worker.ping()


# -- the window: copies of the database stop opening ------------------------------------------


def test_a_backup_taken_before_the_erasure_opens_until_the_keys_are_retired(client, cli, rt, make_person,
                                                                          seeker: Person, advisor: Person) -> None:
    from core.identity.roles import Role

    other = make_person(Role.SEEKER)
    assert client.put(f"/api/v1/seekers/{other.subject_id}/identity", json=IDENTITY, headers=other.auth).status_code == 200
    write_markers(client, seeker, advisor)
    # The backup: what `SELECT wrapped_dek, kek_version FROM subjects` and the sealed rows held.
    backup_key, backup_rows = key_of(rt, seeker.subject_id), sealed_rows(rt, seeker.subject_id)
    erase(client, seeker)
    keyring = Path(rt.keys.path)
    # The attack: the erased seeker's name, from the backup and the keyring as it is after the erasure.
    assert open_name(keyring, seeker.subject_id, backup_key, backup_rows) == f"{MARKER} Name"
    assert run(cli, "keys", "rotate", "--retire")["retired"] == [1]
    with pytest.raises(KeyProviderError):
        open_name(keyring, seeker.subject_id, backup_key, backup_rows)
    assert_readable(client, other)


def test_erasure_removes_the_records_and_their_plain_metadata(client, cli, rt, seeker: Person, advisor: Person) -> None:
    write_markers(client, seeker, advisor)
    with rt.engine.connect() as conn:
        record_ids = list(conn.execute(select(records.c.id).where(records.c.subject_id == seeker.subject_id)).scalars())
    key, rows = key_of(rt, seeker.subject_id), sealed_rows(rt, seeker.subject_id)
    assert len(record_ids) >= 4 and rows
    erase(client, seeker)
    run(cli, "keys", "rotate", "--retire")
    if rt.work.wal_cleanup is not None:
        assert rt.work.wal_cleanup.wait(timeout=10)
    with rt.engine.connect() as conn:
        for table in (records, sealed_fields, plugin_events):
            count = conn.execute(select(func.count()).select_from(table).where(table.c.subject_id == seeker.subject_id)).scalar()
            assert count == 0, f"{table.name} still describes the erased seeker"
        row = conn.execute(select(subjects).where(subjects.c.id == seeker.subject_id)).one()
        assert row.erased_at is not None and row.wrapped_dek is None  # what the audit log refers to stays
    raw = raw_database_bytes(rt)
    assert key.wrapped not in raw, "the erased data key is still in the database bytes"
    for record_id in record_ids:
        assert record_id.encode() not in raw, "a record of the erased seeker is still in the database bytes"
    for row in rows:
        assert row.ciphertext not in raw, f"the sealed field {row.field} of the erased seeker is still in the database bytes"
    # The audit log still verifies: its entries keep their references to the subject.
    verified = cli("audit", "verify")
    assert verified.exit_code == 0, verified.output


# -- SQLite: an erasure while a long reader holds a snapshot ----------------------------------


@pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite's WAL; the PostgreSQL run reads dead row versions instead")
def test_an_erasure_during_a_long_read_answers_at_once_and_empties_the_wal_when_it_ends(
        client, rt, make_person, seeker: Person, advisor: Person) -> None:
    from core.identity.roles import Role

    other = make_person(Role.SEEKER)
    write_markers(client, seeker, advisor)
    key = key_of(rt, seeker.subject_id)
    path = Path(rt.engine.url.database or "")
    wal = Path(f"{path}-wal")
    # A backup or an export: a read transaction that began before the erasure and stays open.
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM subjects WHERE wrapped_dek IS NOT NULL").fetchone()[0] == 2
        assert erase(client, seeker) < 1.0, "the erasure waited for the reader"
        cleanup = rt.work.wal_cleanup
        assert cleanup is not None and cleanup.pending
        started = time.monotonic()
        assert client.put(f"/api/v1/seekers/{other.subject_id}/identity", json=IDENTITY, headers=other.auth).status_code == 200
        assert time.monotonic() - started < 1.0, "another writer was stalled"
        assert_readable(client, other)
        # The reader still sees its snapshot, and the old page images holding the key are still there.
        assert reader.execute("SELECT count(*) FROM subjects WHERE wrapped_dek IS NOT NULL").fetchone()[0] == 2
        assert key.wrapped in path.read_bytes() + wal.read_bytes()
        time.sleep(0.3)  # retries meanwhile give up at once, without blocking anyone
        assert cleanup.pending
        reader.execute("COMMIT")  # the read ends; the connection stays open (closing it would checkpoint)
        ended = time.monotonic()
        assert cleanup.wait(timeout=10), "the WAL was not emptied after the reader ended"
        assert time.monotonic() - ended < 3.0
        assert not cleanup.pending
        assert wal.stat().st_size == 0
        assert key.wrapped not in path.read_bytes() + wal.read_bytes(), "the erased data key is still in the database files"
    finally:
        reader.close()


# -- PostgreSQL: dead row versions ------------------------------------------------------------


def dead_tuples(conn, table: str) -> list[bytes]:  # type: ignore[no-untyped-def]
    """The raw data of every tuple in the table's heap pages, live or dead (pageinspect)."""
    pages = conn.execute(text("SELECT pg_relation_size(CAST(:t AS regclass)) / current_setting('block_size')::int"),
                         {"t": table}).scalar()
    found = []
    for page in range(pages):
        rows = conn.execute(text("SELECT t_data FROM heap_page_items(get_raw_page(:t, :n)) WHERE t_data IS NOT NULL"),
                            {"t": table, "n": page}).scalars()
        found += [bytes(data) for data in rows]
    return found


def wrapped_keys_in(tuples: list[bytes], keyring: LocalKeyring, subject_id: str) -> list[bytes]:
    """What an attacker tries: every 60-byte window of every tuple, as a wrapped data key under every
    KEK version the keyring holds; the data keys that unwrap."""
    opened = []
    for data in tuples:
        for start in range(len(data) - 59):
            for version in keyring.versions():
                try:
                    opened.append(keyring.unwrap(version, data[start:start + 60], subject_id.encode()))
                except KeyProviderError:
                    continue
    return opened


@pytest.fixture
def pageinspect(rt):  # type: ignore[no-untyped-def]
    """pageinspect on the test database, with autovacuum off for the tables read (so that their dead
    row versions stay, as they do for a while on any server)."""
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's dead row versions: set TEST_POSTGRESQL_URL to run this test")
    with rt.engine.begin() as conn:
        try:
            with conn.begin_nested():
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        except Exception as exc:
            pytest.skip(f"the pageinspect extension is not available to this user ({type(exc).__name__})")
        for table in ("subjects", "sealed_fields"):
            conn.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
    yield
    with rt.engine.begin() as conn:
        for table in ("subjects", "sealed_fields"):
            conn.execute(text(f"ALTER TABLE {table} RESET (autovacuum_enabled)"))


def test_postgresql_dead_row_versions_stop_opening_once_the_keys_are_retired(
        pageinspect, client, cli, rt, seeker: Person, advisor: Person) -> None:
    write_markers(client, seeker, advisor)
    live_key, backup_rows = key_of(rt, seeker.subject_id), sealed_rows(rt, seeker.subject_id)
    erase(client, seeker)
    keyring = LocalKeyring(Path(rt.keys.path), reload_interval=0)
    with rt.engine.connect() as conn:
        assert conn.execute(select(subjects.c.wrapped_dek).where(subjects.c.id == seeker.subject_id)).scalar() is None
        subject_tuples, field_tuples = dead_tuples(conn, "subjects"), dead_tuples(conn, "sealed_fields")
    # The erased seeker's old row version is still in the table's pages, with the wrapped key ...
    assert any(live_key.wrapped in data for data in subject_tuples)
    # ... which the keyring still opens (the attack): with it, the sealed name still in the dead rows.
    (dek,) = wrapped_keys_in(subject_tuples, keyring, seeker.subject_id)
    (name,) = [r for r in backup_rows if r.field == "name"]
    assert any(name.ciphertext in data for data in field_tuples)
    recovered = Sealer(keyring).cipher(seeker.subject_id, live_key).open(name.record_id, name.field, name.ciphertext)
    assert MARKER in recovered.decode() and len(dek) == 32
    assert run(cli, "keys", "rotate", "--retire")["retired"] == [1]
    with rt.engine.connect() as conn:
        subject_tuples = dead_tuples(conn, "subjects")
    # No VACUUM ran: the dead version is still there, and nothing in any version opens any more.
    assert any(live_key.wrapped in data for data in subject_tuples)
    assert wrapped_keys_in(subject_tuples, LocalKeyring(Path(rt.keys.path), reload_interval=0), seeker.subject_id) == []
    with pytest.raises(KeyProviderError):
        open_name(Path(rt.keys.path), seeker.subject_id, live_key, backup_rows)


def test_the_kek_bytes_are_gone_from_the_keyring_file_after_retirement(cli, rt) -> None:
    old = base64.b64decode(keyring_document(rt)["keks"]["1"])
    run(cli, "keys", "rotate", "--retire")
    raw = Path(rt.keys.path).read_bytes()
    assert old not in raw and base64.b64encode(old) not in raw
    assert not Path(str(rt.keys.path) + ".tmp").exists()

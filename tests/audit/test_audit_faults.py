"""Fault injection: when the audit append or the commit fails, the access does not happen and
nothing is half-written (invariant 2). And appends from several processes leave no gap."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from audit import store as audit_store
from audit.models import audit_leaves, audit_queue
from audit.service import sequence
from audit.service import verify
from core.models import records, sealed_fields
from tests.conftest import Person

CONTACT = {"channel": "phone", "occurred_at": "2026-11-20T10:00:00+01:00", "summary": "Appel"}


def counts(rt) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with rt.engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(records)).scalar_one(),
            conn.execute(select(func.count()).select_from(sealed_fields)).scalar_one(),
            conn.execute(select(func.count()).select_from(audit_queue)).scalar_one()
            + conn.execute(select(func.count()).select_from(audit_leaves)).scalar_one(),
        )


class Boom(Exception):
    pass


def failing_append(*_: Any, **__: Any) -> None:
    raise Boom("audit store unavailable")


@pytest.mark.parametrize("request_kind", ["read", "write", "denied"])
def test_a_failing_append_stops_the_access(client, rt, monkeypatch, seeker: Person, advisor: Person, make_person, request_kind) -> None:
    from core.identity.roles import Role

    before = counts(rt)
    monkeypatch.setattr(audit_store, "append", failing_append)
    if request_kind == "read":
        response = client.get(f"/api/v1/seekers/{seeker.subject_id}/dossier", headers=advisor.auth)
    elif request_kind == "write":
        response = client.post(f"/api/v1/seekers/{seeker.subject_id}/contacts", json=CONTACT, headers=advisor.auth)
    else:
        response = client.get(f"/api/v1/seekers/{seeker.subject_id}/dossier", headers=make_person(Role.ADVISOR).auth)
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert '"identity"' not in body and "Appel" not in body
    assert counts(rt) == before


@pytest.mark.parametrize("request_kind", ["read", "write"])
def test_a_failing_commit_leaves_nothing_half_written(client, rt, monkeypatch, seeker: Person, advisor: Person, request_kind) -> None:
    before = counts(rt)

    def failing_commit(self: Connection) -> None:
        raise Boom("disk full at commit")

    monkeypatch.setattr(Connection, "commit", failing_commit)
    if request_kind == "read":
        response = client.get(f"/api/v1/seekers/{seeker.subject_id}/dossier", headers=advisor.auth)
    else:
        response = client.post(f"/api/v1/seekers/{seeker.subject_id}/contacts", json=CONTACT, headers=advisor.auth)
    monkeypatch.undo()
    assert response.status_code == 500
    assert '"identity"' not in response.get_data(as_text=True)
    assert counts(rt) == before


@pytest.mark.parametrize("step", ["load", "seal"])
def test_a_failure_after_the_append_rolls_the_entry_back_too(client, rt, monkeypatch, seeker: Person, advisor: Person, step: str) -> None:
    from core.dossier import store

    before = counts(rt)
    target = "load_sealed" if step == "load" else "write_fields"
    monkeypatch.setattr(store, target, failing_append)
    if step == "load":
        response = client.get(f"/api/v1/seekers/{seeker.subject_id}/dossier", headers=advisor.auth)
    else:
        response = client.post(f"/api/v1/seekers/{seeker.subject_id}/contacts", json=CONTACT, headers=advisor.auth)
    assert response.status_code == 500
    # No access happened, so no record of one either: neither half exists without the other.
    assert counts(rt) == before


def _reader(settings: dict[str, Any], subject_id: str, token: str, count: int) -> int:
    from core.app import create_app
    from core.runtime import runtime

    app = create_app(settings)
    client = app.test_client()
    ok = 0
    for i in range(count):
        ok += client.get(f"/api/v1/seekers/{subject_id}/dossier", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        if i % 5 == 4:
            sequence(runtime(app))  # sequencers in every process at once, as server workers run them
    runtime(app).engine.dispose()
    return ok


def test_appends_from_several_processes_leave_no_gap(app, rt, seeker: Person, advisor: Person) -> None:
    settings = {"INSTANCE_PATH": str(rt.settings.instance_path), "DATABASE_URL": rt.settings.database_url, "TESTING": True}
    processes, per_process = 4, 25
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        results = pool.starmap(_reader, [(settings, seeker.subject_id, advisor.token, per_process)] * processes)
    assert sum(results) == processes * per_process
    sequence(rt)
    with rt.engine.connect() as conn:
        indexes = list(conn.execute(select(audit_leaves.c.leaf_index).order_by(audit_leaves.c.leaf_index)).scalars())
    assert indexes == list(range(len(indexes))) and len(indexes) >= processes * per_process
    assert verify(rt).ok

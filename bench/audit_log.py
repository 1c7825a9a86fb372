"""Audit log benchmark: appends per second, sequencing, and verifying a large log.

    .venv/bin/python bench/audit_log.py [--entries 1000000] [--seconds 5] [--database sqlite|postgresql|both]

Prints, in one run:
- the baseline: an RFC 6962 root over the same number of leaves in plain Python (docs/design.md
  gives 1.8 s for 1,000,000 leaves measured on a 2-core machine);
- appends per second, one entry per transaction as a request makes them;
- what the subjects' chains cost the sequencer: entries/s integrating entries about no subject
  (no chain to keep) and about seekers (each entry's place in its seeker's chain), same run;
- how fast the sequencer integrates entries into the tree;
- the time of `dossier audit verify` over the whole log, and its ratio to the baseline
  (the target: within 3 times);
- a seeker with 1,000 entries in the log: the size of their access-log proof (every entry's leaf
  and inclusion path, the checkpoint), the time to build it and to verify it offline.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from typing import Any  # noqa: E402

from sqlalchemy import create_engine, insert, text  # noqa: E402

from audit import store as audit_store  # noqa: E402
from audit.entries import Entry  # noqa: E402
from audit.models import audit_queue  # noqa: E402
from audit.schemas import AccessLogSchema  # noqa: E402
from audit.service import AccessLog, checkpoint_now, listed, verify  # noqa: E402
from audit.verifier import ACCESS_LOG_FORMAT, verify_access_log  # noqa: E402
from consent.store import load_catalogue  # noqa: E402
from core.app import create_app  # noqa: E402
from core.bootstrap import initialise  # noqa: E402
from core.models import utcnow  # noqa: E402
from core.runtime import runtime  # noqa: E402
from config.settings import load_settings  # noqa: E402

PG_SERVER = os.environ.get("TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def baseline_root(entries: list[bytes]) -> float:
    """Plain-Python RFC 6962 root over the same entries held in memory: hash the leaves, then the tree."""
    started = time.perf_counter()
    level = [hashlib.sha256(b"\x00" + e).digest() for e in entries]
    # Bottom-up: pair neighbours; an odd node is carried up unchanged (the same root as the
    # RFC's recursive definition).
    while len(level) > 1:
        nxt = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return time.perf_counter() - started


SEEKERS = [str(uuid.uuid4()) for _ in range(100_000)]
HEAVY_SEEKER = str(uuid.uuid4())
HEAVY_ENTRIES = 1000
ANCHOR_REQUEST = uuid.uuid4().hex


def entry(i: int, subject: str | None = "pool", action: str = "dossier:dossier:read", request_id: str | None = None) -> Entry:
    return Entry(utcnow(), str(uuid.uuid4()), "advisor", "bench", SEEKERS[i % len(SEEKERS)] if subject == "pool" else subject, action,
                 ("dossier.public_task",), ("contact.history", "identity.contact", "identity.name"), "allow",
                 "assigned_advisor:dossier.public_task", request_id or uuid.uuid4().hex)


def fill(rt: Any, start: int, end: int, make: Any) -> None:
    """Queue the entries ``make(start)`` .. ``make(end - 1)`` in bulk."""
    with rt.engine.begin() as conn:
        for first in range(start, end, 10_000):
            conn.execute(insert(audit_queue), [{"canonical": make(i).canonical()} for i in range(first, min(end, first + 10_000))])


def integrate_all(rt: Any) -> tuple[int, float]:
    started, integrated = time.perf_counter(), 0
    while True:
        with rt.transaction() as conn:
            added = audit_store.integrate(conn, rt.signing, rt.clock(), batch=20_000)
        integrated += added
        if not added:
            return integrated, time.perf_counter() - started


def seeker_proof(rt: Any) -> tuple[int, float, float, int]:
    """The heavy seeker's access-log response, as the service builds and dumps it: (bytes, build s, verify s, entries)."""
    started = time.perf_counter()
    signed = checkpoint_now(rt)
    document = AccessLog(ACCESS_LOG_FORMAT, HEAVY_SEEKER, ANCHOR_REQUEST, listed(rt, HEAVY_SEEKER, signed, None), signed)
    text = json.dumps(AccessLogSchema().dump(document))
    built = time.perf_counter() - started
    jwks = json.loads(json.dumps(rt.signing.jwks()))
    started = time.perf_counter()
    report = verify_access_log(json.loads(text), jwks)
    checked = time.perf_counter() - started
    assert report.ok, report.problem
    return len(text.encode()), built, checked, report.entries


def run(database: str, entries: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url, admin, name = "", None, ""
        if database == "postgresql":
            name = f"dossier_bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = PG_SERVER.rsplit("/", 1)[0] + "/" + name
        overrides = {"INSTANCE_PATH": folder, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
        list(initialise(load_settings(overrides, environ={})))
        app = create_app(overrides)
        rt = runtime(app)
        with rt.engine.begin() as conn:
            load_catalogue(conn)
        try:
            # Appends: one entry per transaction, as audited requests make them.
            count, started = 0, time.perf_counter()
            while time.perf_counter() - started < seconds:
                with rt.transaction() as conn:
                    audit_store.append(conn, entry(count))
                count += 1
            appends = count / (time.perf_counter() - started)
            integrate_all(rt)  # what the appends queued
            # The chains' cost: the same number of entries about no subject, then about seekers.
            sample = min(100_000, entries // 4)
            fill(rt, count, count + sample, lambda i: entry(i, subject=None))
            plain = sample / integrate_all(rt)[1]
            fill(rt, count + sample, count + 2 * sample, entry)
            chained = sample / integrate_all(rt)[1]
            # Fill to the size asked, the heavy seeker's entries spread evenly, the last one their read.
            start, every = count + 2 * sample, max(1, (entries - count - 2 * sample) // HEAVY_ENTRIES)

            def mixed(i: int) -> Entry:
                k = i - start
                if k % every == every - 1 and k // every < HEAVY_ENTRIES:
                    if k // every == HEAVY_ENTRIES - 1:  # the last: the read that asks for the list
                        return entry(i, HEAVY_SEEKER, "audit:access_log:read", ANCHOR_REQUEST)
                    return entry(i, HEAVY_SEEKER)
                return entry(i)

            fill(rt, start, entries, mixed)
            integrated, sequencing = integrate_all(rt)
            started = time.perf_counter()
            report = verify(rt)
            verifying = time.perf_counter() - started
            assert report.ok, report.problem
            with rt.engine.connect() as conn:
                canonical = [bytes(b) for b in conn.execute(text("SELECT canonical FROM audit_leaves ORDER BY leaf_index")).scalars()]
            base = baseline_root(canonical)
            del canonical
            size, built, checked, listed = seeker_proof(rt)
            print(f"[{database}] appends: {appends:,.0f}/s (one entry per transaction, {count:,} in {seconds:g} s)")
            print(f"[{database}] chains: sequencing {plain:,.0f} entries/s about no subject, {chained:,.0f}/s about seekers "
                  f"(ratio {chained / plain:.2f}, {sample:,} each)")
            print(f"[{database}] sequencing: {integrated / sequencing:,.0f} entries/s ({integrated:,} in {sequencing:.1f} s)")
            print(f"[{database}] seeker proof: {listed:,} entries in a log of {report.tree_size:,}: {size / 1e6:.2f} MB, "
                  f"built in {built * 1000:.0f} ms, verified offline in {checked * 1000:.0f} ms")
            print(f"[{database}] verify {report.tree_size:,} entries, {report.checkpoints} checkpoints: {verifying:.2f} s; "
                  f"baseline RFC 6962 root in plain Python: {base:.2f} s; ratio {verifying / base:.2f} (target <= 3)")
        finally:
            rt.engine.dispose()
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    for database in (["sqlite", "postgresql"] if args.database == "both" else [args.database]):
        run(database, args.entries, args.seconds)


if __name__ == "__main__":
    main()

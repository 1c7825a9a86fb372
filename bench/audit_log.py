"""Audit log benchmark: appends per second, sequencing, and verifying a large log.

    .venv/bin/python bench/audit_log.py [--entries 1000000] [--seconds 5] [--database sqlite|postgresql|both]

Prints, in one run:
- the baseline: an RFC 6962 root over the same number of leaves in plain Python (docs/design.md
  gives 1.8 s for 1,000,000 leaves measured on a 2-core machine);
- appends per second, one entry per transaction as a request makes them;
- how fast the sequencer integrates entries into the tree;
- the time of `dossier audit verify` over the whole log, and its ratio to the baseline
  (the issue's target: within 3 times).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from audit import store as audit_store  # noqa: E402
from audit.entries import Entry  # noqa: E402
from audit.models import audit_queue  # noqa: E402
from audit.service import verify  # noqa: E402
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


def entry(i: int) -> Entry:
    return Entry(utcnow(), str(uuid.uuid4()), "advisor", "bench", str(uuid.uuid4()), "dossier:dossier:read",
                 ("dossier.public_task",), ("contact.history", "identity.contact", "identity.name"), "allow",
                 "assigned_advisor:dossier.public_task", uuid.uuid4().hex)


def run(database: str, entries: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url, admin, name = "", None, ""
        if database == "postgresql":
            name = f"dossier_bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = PG_SERVER.rsplit("/", 1)[0] + "/" + name
        overrides = {"INSTANCE_PATH": folder, "DATABASE_URL": url, "LOG_LEVEL": "WARNING", "AUDIT_CHECKPOINT_EVERY": 100_000}
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
            # Fill the queue to the size asked, in bulk, then sequence it.
            batch = 10_000
            with rt.engine.begin() as conn:
                for start in range(count, entries, batch):
                    rows = []
                    for i in range(start, min(entries, start + batch)):
                        e = entry(i)
                        rows.append({"canonical": e.canonical(), "subject_ref": e.subject_ref, "actor_id": e.actor_id,
                                     "decision": e.decision, "at": e.at})
                    conn.execute(insert(audit_queue), rows)
            started = time.perf_counter()
            integrated = 0
            while True:
                with rt.transaction() as conn:
                    added = audit_store.integrate(conn, rt.signing, rt.clock(), batch=20_000, checkpoint_every=100_000,
                                                checkpoint_after=timedelta(days=1))
                integrated += added
                if not added:
                    break
            sequencing = time.perf_counter() - started
            started = time.perf_counter()
            report = verify(rt)
            verifying = time.perf_counter() - started
            assert report.ok, report.problem
            with rt.engine.connect() as conn:
                canonical = [bytes(b) for b in conn.execute(text("SELECT canonical FROM audit_leaves ORDER BY leaf_index")).scalars()]
            base = baseline_root(canonical)
            del canonical
            print(f"[{database}] appends: {appends:,.0f}/s (one entry per transaction, {count:,} in {seconds:g} s)")
            print(f"[{database}] sequencing: {integrated / sequencing:,.0f} entries/s ({integrated:,} in {sequencing:.1f} s)")
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

"""Time `dossier audit verify` against the plain-Python baseline, on a log built once and kept.

    .venv/bin/python bench/audit_verify.py --database postgresql [--entries 1000000] [--keep NAME] [--repeat 3] [--parts] [--settle S]

`bench/audit_log.py` builds its log anew on every run (some six minutes for 1,000,000 entries on
PostgreSQL) and times verify once. This script builds a log of the same shape (the same entries
as `audit_log.py`: a pool of 100,000 seekers, entries about no subject, one seeker with 1,000
entries) the first time, keeps it under `--keep NAME` (a PostgreSQL database of that name, or a
SQLite file, with its instance folder in /tmp/dossier-bench-NAME), and reuses it after. Each
repeat times `audit.service.verify` and the baseline back to back, in the same run.
With `--parts`, it also times each part of verify alone, on one thread: the hashing with the node
comparison, fetching the leaves, the stored nodes, and the SQL checks. `--drop` removes a kept log.

A kept log differs from the fresh one `audit_log.py` verifies: its pages were read before (on
PostgreSQL, their hint bits are set, and they may still be in the cache). Use it to compare
versions of the code in the same conditions, and `audit_log.py` for the figure of record.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import create_engine, select, text  # noqa: E402

import audit_log as bench  # noqa: E402
from audit import store as audit_store  # noqa: E402
from audit.models import audit_checkpoints  # noqa: E402
from audit.service import checkpoint_now, verify  # noqa: E402
from audit.verifier import verify_log  # noqa: E402
from consent.store import load_catalogue  # noqa: E402
from config.settings import load_settings  # noqa: E402
from core.app import create_app  # noqa: E402
from core.bootstrap import initialise  # noqa: E402
from core.runtime import runtime  # noqa: E402


def _places(database: str, name: str) -> tuple[Path, str]:
    folder = Path(f"/tmp/dossier-bench-{name}")
    url = bench.PG_SERVER.rsplit("/", 1)[0] + "/" + name if database == "postgresql" else f"sqlite:///{folder}/dossier.db"
    return folder, url


def _admin() -> Any:
    return create_engine(bench.PG_SERVER, isolation_level="AUTOCOMMIT")


def _exists(database: str, name: str) -> bool:
    folder, _ = _places(database, name)
    if not (folder / "built").is_file():
        return False
    if database == "sqlite":
        return True
    with _admin().connect() as conn:
        return conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar() is not None


def drop(database: str, name: str) -> None:
    folder, _ = _places(database, name)
    if database == "postgresql":
        with _admin().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    shutil.rmtree(folder, ignore_errors=True)


def _overrides(database: str, name: str) -> dict[str, str]:
    folder, url = _places(database, name)
    return {"INSTANCE_PATH": str(folder), "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}


def build(database: str, name: str, entries: int) -> None:
    """The log of `audit_log.py`, without its timings: some appends, entries about no subject, then seekers."""
    drop(database, name)
    folder, url = _places(database, name)
    folder.mkdir(parents=True)
    if database == "postgresql":
        with _admin().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    overrides = _overrides(database, name)
    list(initialise(load_settings(overrides, environ={})))
    rt = runtime(create_app(overrides))
    with rt.engine.begin() as conn:
        load_catalogue(conn)
    started = time.perf_counter()
    appended = min(8_000, entries // 10)  # what five seconds of appends queue on PostgreSQL
    bench.fill(rt, 0, appended, bench.entry)
    sample = min(100_000, entries // 4)
    bench.fill(rt, appended, appended + sample, lambda i: bench.entry(i, subject=None))
    bench.integrate_all(rt)
    start = appended + sample
    every = max(1, (entries - start) // bench.HEAVY_ENTRIES)

    def mixed(i: int) -> Any:
        k = i - start
        if k % every == every - 1 and k // every < bench.HEAVY_ENTRIES:
            return bench.entry(i, bench.HEAVY_SEEKER)
        return bench.entry(i)

    for first in range(start, entries, 100_000):  # in slices, so the queue stays small
        bench.fill(rt, first, min(entries, first + 100_000), mixed)
        bench.integrate_all(rt)
    (folder / "built").write_text(str(entries))
    print(f"built {entries:,} entries in {time.perf_counter() - started:.0f} s: {url}")
    rt.engine.dispose()


def settle(limit: float, threshold: float = 0.15) -> None:
    """Wait up to ``limit`` seconds for the other processes to use less than ``threshold`` cores (over 2 s)."""

    def busy() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(values) - values[3] - values[4], sum(values)

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        b0, t0 = busy()
        time.sleep(2)
        b1, t1 = busy()
        if (b1 - b0) / max(1, t1 - t0) * (os.cpu_count() or 1) < threshold:
            return


def _timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def parts(rt: Any) -> None:
    """Each part of verify alone, on this thread."""
    with rt.engine.connect() as conn:
        kept = conn.execute(select(audit_checkpoints.c.jws).order_by(audit_checkpoints.c.tree_size)).scalars().all()
        jwks = rt.signing.jwks()

        def hashing() -> Any:
            nodes = audit_store.stored_nodes(conn)
            return verify_log(audit_store.leaves(conn), kept, jwks, expected_size=audit_store.tree_size(conn),
                              stored_nodes=iter(nodes), stored_from_level=audit_store.STORED_LEVEL)

        def fetching() -> int:
            return sum(1 for _ in audit_store.leaves(conn))

        for label, call in (("hashing with the stored nodes", hashing), ("fetching the leaves alone", fetching),
                            ("stored_nodes", lambda: audit_store.stored_nodes(conn)),
                            ("leaves_disagree (columns, chains, chains' table)", lambda: audit_store.leaves_disagree(conn))):
            seconds, result = _timed(call)
            print(f"  {label}: {seconds:.2f} s ({_shown(result)})")
            conn.rollback()


def _shown(result: Any) -> str:
    if isinstance(result, list):
        return f"{len(result):,} rows"
    if isinstance(result, int):
        return f"{result:,} rows"
    return "ok" if getattr(result, "ok", False) or result == (None, None) else repr(result)


def measure(database: str, name: str, repeat: int, with_parts: bool, settling: float) -> None:
    rt = runtime(create_app(_overrides(database, name)))
    checkpoint_now(rt)
    with rt.engine.connect() as conn:
        canonical = [bytes(b) for b in conn.execute(text("SELECT canonical FROM audit_leaves ORDER BY leaf_index")).scalars()]
    ratios = []
    for _ in range(repeat):
        settle(settling)
        verifying, report = _timed(lambda: verify(rt))
        assert report.ok, report.problem
        base = bench.baseline_root(canonical)
        ratios.append(verifying / base)
        print(f"[{database}] verify {report.tree_size:,} entries, {report.checkpoints} checkpoints: {verifying:.2f} s; "
              f"baseline {base:.2f} s; ratio {verifying / base:.2f} (target <= 3)", flush=True)
    print(f"[{database}] median ratio {statistics.median(ratios):.2f} over {repeat}")
    del canonical
    if with_parts:
        parts(rt)
    rt.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--keep", default="dossier_bench_verify", help="name of the kept log (database and folder)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parts", action="store_true", help="also time each part of verify alone")
    parser.add_argument("--settle", type=float, default=0, help="before each repeat, wait up to S seconds for the machine to go quiet")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--drop", action="store_true")
    args = parser.parse_args()
    name = f"{args.keep}_{args.database}"
    if args.drop:
        drop(args.database, name)
        return
    if args.rebuild or not _exists(args.database, name):
        build(args.database, name, args.entries)
    measure(args.database, name, args.repeat, args.parts, args.settle)


if __name__ == "__main__":
    main()

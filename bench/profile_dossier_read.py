#!/usr/bin/env python3
"""Where the time of one dossier read goes, in process (no server, no network).

Sets up a throw-away instance the way ``bench/dossier_read.py`` does (``dossier init``, an advisor,
an assigned seeker, an identity and a few contacts), then calls ``GET /healthz`` and the assigned
advisor's ``GET /api/v1/seekers/{id}/dossier`` through the Flask test client of
``core.app.create_app``, and prints:

- the mean wall time of each request in process, and their ratio;
- the SQL statements one dossier read executes (counted with a SQLAlchemy event listener);
- a cProfile of the dossier reads, sorted by own time and by cumulative time.

Usage (from the project root)::

    .venv/bin/python bench/profile_dossier_read.py [--database sqlite|postgresql] [--requests N] [--top N]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import importlib.util

# bench/ must not shadow the service's packages (bench/audit.py would hide the `audit` package):
# take this folder off the import path and load the benchmark's helpers from their file.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH]
_spec = importlib.util.spec_from_file_location("dossier_read_bench", _BENCH / "dossier_read.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench  # dataclasses look their module up while the file runs
_spec.loader.exec_module(bench)


def timed(client: Any, path: str, headers: dict[str, str], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        response = client.get(path, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
    return (time.perf_counter() - started) / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--contacts", type=int, default=3)
    args = parser.parse_args()

    with bench.instance(args.database) as env:
        bench.init_instance(env, 20)
        advisor, seeker, subject_id = bench.create_fixture(env)
        fixture = bench.Fixture(subject_id, bench.run_cli(env, "token", advisor).strip(),
                                bench.run_cli(env, "token", seeker).strip())
        os.environ.update(env)
        from sqlalchemy import event

        from core.app import create_app
        from core.runtime import runtime

        app = create_app()
        # the request log stays on (it is part of a request's cost) but goes to a file, as under
        # the benchmark's server, not to this terminal
        import logging

        log_file = (Path(env["DOSSIER_INSTANCE_PATH"]).parent / "requests.log").open("a")
        for handler in logging.getLogger("dossier").handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(log_file)
        client = app.test_client()
        base = f"/api/v1/seekers/{subject_id}"
        seeker_h = {"Authorization": f"Bearer {fixture.seeker_token}"}
        advisor_h = {"Authorization": f"Bearer {fixture.advisor_token}"}
        identity = {"name": "Camille Martin", "email": "camille@example.org", "phone": "+33 6 12 34 56 78",
                    "national_id": None, "birth_date": "1990-04-12",
                    "address": {"street": "12 rue des Lilas", "postal_code": "69003", "city": "Lyon"}}
        assert client.put(base + "/identity", json=identity, headers=seeker_h).status_code == 200
        for i in range(args.contacts):
            contact = {"channel": "phone", "occurred_at": "2026-11-20T10:00:00+01:00", "summary": f"Entretien {i}"}
            assert client.post(base + "/contacts", json=contact, headers=advisor_h).status_code == 201

        dossier = base + "/dossier"
        n = args.requests
        timed(client, "/healthz", {}, 200)
        timed(client, dossier, advisor_h, 200)
        healthz_s = timed(client, "/healthz", {}, n)
        dossier_s = timed(client, dossier, advisor_h, n)
        print(f"database={args.database} requests={n} (Flask test client, one process)")
        print(f"  GET /healthz  {healthz_s * 1e6:8.0f} µs/request")
        print(f"  GET dossier   {dossier_s * 1e6:8.0f} µs/request   ratio healthz/dossier = {healthz_s / dossier_s:.3f}")

        statements: list[str] = []
        engine = runtime(app).engine

        def count(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
            statements.append(" ".join(statement.split())[:110])

        event.listen(engine, "before_cursor_execute", count)
        connects: list[int] = []
        event.listen(engine, "checkout", lambda *a: connects.append(1))
        client.get(dossier, headers=advisor_h)
        event.remove(engine, "before_cursor_execute", count)
        print(f"\nSQL statements in one dossier read: {len(statements)} (pool checkouts: {len(connects)})")
        for statement, times in Counter(statements).items():
            print(f"  {times} x {statement}")

        profile = cProfile.Profile()
        profile.enable()
        timed(client, dossier, advisor_h, n)
        profile.disable()
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out)
            stats.sort_stats(order).print_stats(args.top)
            text = out.getvalue()
            print(f"\n== cProfile of {n} dossier reads, by {order} ==")
            print(text[text.find("   ncalls"):] if "   ncalls" in text else text)
        app.extensions["dossier"].engine.dispose()
        log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

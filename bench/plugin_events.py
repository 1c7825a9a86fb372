#!/usr/bin/env python3
"""What plugins cost the requests that feed them, in process (Flask test client, SQLite or PostgreSQL).

For each case, the same request is timed on a fresh instance, and its mean time is printed with
its ratio to the baseline measured in the same run:

- ``PATCH .../profile`` with no plugin (the baseline);
- the same, with a plugin that listens to ``dossier_profile_changed`` but has no consent: the
  release is decided, refused and audited, and the plugin is not called;
- the same, with the seeker's consent: the release is decided, audited, the fields decrypted, a
  view built, and the plugin called on its own thread (events delivered inline,
  ``PLUGIN_DISPATCH_INTERVAL = 0``, so the request waits for it);
- the same, with events delivered in the background (the default, ``PLUGIN_DISPATCH_INTERVAL = 1``):
  the request only writes the event row;
- ``GET .../dossier`` by the assigned advisor, with and without the plugin: reads emit no event.

Each case runs twice, in turn, and the faster of its two runs is kept (the first runs of a process
are slower: caches, imports).

Usage (from the project root)::

    .venv/bin/python bench/plugin_events.py [--requests 500] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from config.settings import load_settings  # noqa: E402
from core.app import create_app  # noqa: E402
from core.bootstrap import initialise  # noqa: E402
from core.identity import accounts  # noqa: E402
from core.identity.roles import Role  # noqa: E402
from core.runtime import runtime  # noqa: E402
from plugins.api import Manifest, Notice, Purged, PurposeDeclaration, hookimpl  # noqa: E402

PURPOSE = "bench_plugin.profile"
SKILLS = [["skill.bricklaying"], ["skill.bricklaying", "skill.setting-out"]]


class BenchPlugin:
    """Reads the profile's skills under a consent purpose it brings, and counts its calls."""

    calls = 0

    @hookimpl
    def dossier_manifest(self) -> Manifest:
        return Manifest("bench_plugin", "1", (PURPOSE,), ("profile.skills", "profile.occupations"), ("dossier_profile_changed",))

    @hookimpl
    def dossier_purposes(self) -> list[PurposeDeclaration]:
        return [PurposeDeclaration(PURPOSE, "consent", ("profile.skills", "profile.occupations"), ("bench",), 30,
                                   (Notice("Banc d'essai.", "Benchmark."),))]

    @hookimpl
    def dossier_profile_changed(self, view: Any, event: Any, context: Any) -> None:
        BenchPlugin.calls += len(view["profile.skills"] or ())

    @hookimpl
    def dossier_consent_withdrawn(self, pseudonym: str, purpose: str, context: Any) -> Purged:
        return Purged()

    @hookimpl
    def dossier_subject_erased(self, pseudonym: str, context: Any) -> Purged:
        return Purged()


def instance(database: str) -> tuple[dict[str, Any], Any]:
    folder = Path(tempfile.mkdtemp(prefix="dossier-bench-plugins-"))
    settings: dict[str, Any] = {"INSTANCE_PATH": str(folder / "instance"), "LOG_LEVEL": "WARNING",
                                "PLUGIN_DISPATCH_INTERVAL": 0, "AUDIT_SEQUENCE_INTERVAL": 0}
    cleanup = None
    if database == "postgresql":
        server = os.environ.get("TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
        name = f"dossier_bench_{os.getpid()}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        settings["DATABASE_URL"] = server.rsplit("/", 1)[0] + f"/{name}"

        def cleanup() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()

    for _ in initialise(load_settings(settings)):
        pass
    return settings, cleanup


def timed(call: Any, n: int) -> float:
    for _ in range(min(50, n)):
        call()
    started = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - started) / n


def measure(settings: dict[str, Any], plugins: list[Any], consent: bool, n: int) -> tuple[float, float]:
    """Mean seconds of a profile change and of the advisor's dossier read, on a new seeker."""
    app = create_app(settings, plugins=plugins)
    rt = runtime(app)
    client = app.test_client()
    suffix = f"{len(plugins)}{int(consent)}{time.monotonic_ns()}"
    seeker = accounts.create_account(rt, f"seeker{suffix}", Role.SEEKER)
    advisor = accounts.create_account(rt, f"advisor{suffix}", Role.ADVISOR)
    accounts.assign_seeker(rt, advisor.username, seeker.username)
    seeker_auth = {"Authorization": "Bearer " + rt.tokens.issue(seeker.id, "seeker", subject_id=seeker.subject_id)}
    advisor_auth = {"Authorization": "Bearer " + rt.tokens.issue(advisor.id, "advisor")}
    base = f"/api/v1/seekers/{seeker.subject_id}"
    if consent:
        assert client.post(base + "/consents", json={"purpose": PURPOSE, "notice_version": 1}, headers=seeker_auth).status_code == 201
    flip = iter(range(10**9))

    def change() -> None:
        response = client.patch(base + "/profile", json={"skills": SKILLS[next(flip) % 2]}, headers=seeker_auth)
        assert response.status_code == 200, response.get_json()

    def read() -> None:
        assert client.get(base + "/dossier", headers=advisor_auth).status_code == 200

    result = timed(change, n), timed(read, n)
    rt.engine.dispose()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    logging.getLogger("dossier").setLevel(logging.WARNING)
    settings, cleanup = instance(args.database)
    background = {**settings, "PLUGIN_DISPATCH_INTERVAL": 1.0}
    cases = {
        "none": (settings, False, False),
        "refused": (settings, True, False),
        "released": (settings, True, True),
        "background": (background, True, True),
    }
    best: dict[str, tuple[float, float]] = {}
    try:
        for _ in range(2):
            for name, (case_settings, with_plugin, consent) in cases.items():
                result = measure(case_settings, [BenchPlugin()] if with_plugin else [], consent, args.requests)
                best[name] = tuple(min(a, b) for a, b in zip(best.get(name, result), result, strict=True))  # type: ignore[assignment]
        assert BenchPlugin.calls > 0, "the plugin was never called"
    finally:
        if cleanup:
            cleanup()
    print(f"database={args.database} requests={args.requests} (Flask test client, one process)")
    change, read = best["none"]
    rows = [
        ("PATCH profile, no plugin (baseline)", best["none"][0], change),
        ("PATCH profile, plugin listening, no consent (inline)", best["refused"][0], change),
        ("PATCH profile, plugin listening, consent (inline)", best["released"][0], change),
        ("PATCH profile, plugin listening, consent (background)", best["background"][0], change),
        ("GET dossier (advisor), no plugin (baseline)", read, read),
        ("GET dossier (advisor), plugin registered", best["released"][1], read),
    ]
    for label, seconds, baseline in rows:
        print(f"  {label:56s} {seconds * 1e6:8.0f} µs   ratio to baseline {seconds / baseline:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

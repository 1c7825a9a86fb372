"""The production server: the app under gunicorn, with its background work, from the command line."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from audit.models import audit_queue
from core.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_serving(url: str, seconds: float = 30) -> None:
    """Until ``url`` answers its OpenAPI document (a server just started)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/openapi.json", timeout=2) as response:
                assert response.status == 200
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing answers on {url}"
            time.sleep(0.2)


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed next to this Python")
def test_plain_gunicorn_with_the_config_module_runs_the_background_work(tmp_path: Path, database_url: str) -> None:
    instance = tmp_path / "served"
    env = {**os.environ, "DOSSIER_INSTANCE_PATH": str(instance), "DOSSIER_DATABASE_URL": database_url}
    dossier = Path(sys.executable).with_name("dossier")
    subprocess.run([str(dossier), "init"], env=env, check=True, capture_output=True, cwd=tmp_path)
    port = free_port()
    server = subprocess.Popen([str(GUNICORN), "-c", "python:core.server", "-w", "1", "-b", f"127.0.0.1:{port}", "wsgi:app"],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = make_engine(database_url)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}")
        subprocess.run([str(dossier), "users", "add", "somebody", "--role", "auditor"], env=env, check=True,
                       capture_output=True, cwd=tmp_path)
        token = subprocess.run([str(dossier), "token", "somebody"], env=env, check=True, capture_output=True,
                               text=True, cwd=tmp_path).stdout.strip()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/audit/entries", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        # The read of the log is itself an entry; the background sequencer integrates it within seconds.
        deadline = time.monotonic() + 15
        while True:
            with engine.connect() as conn:
                queued = conn.execute(select(func.count()).select_from(audit_queue)).scalar_one()
            if queued == 0:
                break
            assert time.monotonic() < deadline, "nothing sequenced the audit queue: the background work is not running"
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(20)
        engine.dispose()
        shutil.rmtree(instance, ignore_errors=True)

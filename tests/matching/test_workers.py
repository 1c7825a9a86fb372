"""Fresh in every process: under gunicorn with two workers, every search reflects every commit that
finished before it began, whichever worker serves it. A stale in-memory index is what this catches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.test_server import GUNICORN, ROOT, free_port, wait_until_serving

DOSSIER = Path(sys.executable).with_name("dossier")
WORKERS = 2
PROFILE = {"occupations": ["occ.bricklayer"], "skills": ["skill.bricklaying"], "postal_code": "4000"}


class Served:
    """A `dossier` instance served by gunicorn; what each request's worker was, from its log."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.env = {**os.environ, "DOSSIER_INSTANCE_PATH": str(tmp_path / "served"), "DOSSIER_DATABASE_URL": database_url}
        self.cwd = tmp_path
        self.log = tmp_path / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.run("init")

    def run(self, *args: str) -> str:
        return subprocess.run([str(DOSSIER), *args], env=self.env, check=True, capture_output=True, text=True,
                              cwd=self.cwd).stdout.strip()

    def account(self, username: str, role: str, *extra: str) -> tuple[dict[str, Any], str]:
        info = json.loads(self.run("users", "add", username, "--role", role, *extra))
        return info, self.run("token", username)

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("wb") as log:
            server = subprocess.Popen([str(GUNICORN), "-c", "python:core.server", "-w", str(WORKERS), "-b",
                                       f"127.0.0.1:{self.port}", "wsgi:app"], env=self.env, cwd=ROOT,
                                      stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_serving(self.url)
        except BaseException:
            server.terminate()
            server.wait(20)
            raise
        return server

    def call(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any, str]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null"), response.headers["X-Request-ID"]
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null"), error.headers["X-Request-ID"]

    def worker_of(self, request_id: str) -> int | None:
        """The pid of the worker that logged the request ``request_id``."""
        for line in self.log.read_text(errors="replace").splitlines():
            if request_id in line and line.startswith("{"):
                entry = json.loads(line)
                if entry.get("request_id") == request_id and entry.get("event") == "request":
                    return int(entry["pid"])
        return None


def searches_in_each_worker(served: Served, token: str, employer_id: str) -> list[tuple[int, int]]:
    """Search until every worker has answered at least twice: (worker pid, total) of each search."""
    answers: list[tuple[int, int]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, body, request_id = served.call("POST", f"/api/v1/employers/{employer_id}/searches", token,
                                               {"occupation": "occ.bricklayer"})
        assert status == 201, body
        pid = None
        for _ in range(50):  # the log line is written as the answer goes out
            pid = served.worker_of(request_id)
            if pid is not None:
                break
            time.sleep(0.02)
        assert pid is not None, "the request's log line names no worker"
        answers.append((pid, body["total"]))
        workers = {p for p, _ in answers}
        if len(workers) == WORKERS and all(sum(1 for p, _ in answers if p == w) >= 2 for w in workers):
            return answers
    pytest.fail(f"not every worker answered within a minute: {answers}")


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed next to this Python")
def test_every_worker_finds_a_newly_published_seeker_and_never_a_withdrawn_one(tmp_path: Path, database_url: str) -> None:
    served = Served(tmp_path, database_url)
    employer = json.loads(served.run("employers", "add", "Entreprise de test"))
    _, employer_token = served.account("recruiter", "employer", "--employer", employer["id"])
    seeker, seeker_token = served.account("marie", "seeker")
    server = served.start()
    try:
        # Both workers have built their index (empty) before the seeker publishes.
        assert {total for _, total in searches_in_each_worker(served, employer_token, employer["id"])} == {0}
        base = f"/api/v1/seekers/{seeker['subject_id']}"
        assert served.call("PATCH", base + "/profile", seeker_token, PROFILE)[0] == 200
        assert served.call("POST", base + "/publication", seeker_token)[0] == 201
        published = searches_in_each_worker(served, employer_token, employer["id"])
        assert {total for _, total in published} == {1}, published
        assert served.call("DELETE", base + "/publication", seeker_token)[0] == 200
        withdrawn = searches_in_each_worker(served, employer_token, employer["id"])
        assert {total for _, total in withdrawn} == {0}, withdrawn
    finally:
        server.terminate()
        server.wait(20)

"""The senders docs/channels.md gives partners (examples/channels), run as a partner would run them
against the service under gunicorn: the Python one and the curl/openssl one are both accepted, and a
message sent again with the same webhook-id is answered and recorded once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.acceptance.test_server import GUNICORN, ROOT, free_port, wait_until_serving

EXAMPLES = ROOT / "examples" / "channels"
CALL = {"email": "ana.peeters@example.org", "occurred_at": "2026-12-01T10:02:00+01:00",
        "summary": "Question sur une formation de cariste"}


def _api(url: str, path: str, token: str, body: dict[str, object] | None = None, method: str = "GET") -> object:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed next to this Python")
@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("openssl")), reason="the shell sender needs curl and openssl")
def test_the_documented_senders_are_accepted_and_recorded_once(tmp_path: Path, database_url: str) -> None:
    instance = tmp_path / "served"
    env = {**os.environ, "DOSSIER_INSTANCE_PATH": str(instance), "DOSSIER_DATABASE_URL": database_url}
    dossier = Path(sys.executable).with_name("dossier")

    def run(*args: str) -> str:
        return subprocess.run([str(dossier), *args], env=env, check=True, capture_output=True, text=True, cwd=tmp_path).stdout

    run("init")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(GUNICORN), "-c", "python:core.server", "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_serving(url)
        seeker = json.loads(run("users", "add", "ana.peeters", "--role", "seeker"))
        seeker_token = run("token", "ana.peeters").strip()
        identity = {"name": "Ana Peeters", "email": CALL["email"], "phone": None, "national_id": None, "birth_date": None,
                    "address": None}
        _api(url, f"/api/v1/seekers/{seeker['subject_id']}/identity", seeker_token, identity, "PUT")
        client = json.loads(run("clients", "add", "centre-appels", "--scope", "channel:callcentre"))
        sender_env = {**env, "DOSSIER_URL": url, "CLIENT_ID": client["client_id"], "CLIENT_SECRET": client["client_secret"],
                      "WEBHOOK_SECRET": client["webhook_secret"], "MESSAGE_ID": "msg_from_the_python_sender"}

        python = subprocess.run([sys.executable, str(EXAMPLES / "send_call.py"), json.dumps(CALL)], env=sender_env,
                                capture_output=True, text=True, timeout=60)
        assert python.stdout.split(" ", 1) == ["202", '{"status":"recorded"}\n'], python.stderr
        shell = subprocess.run(["sh", str(EXAMPLES / "send_call.sh"), json.dumps({**CALL, "summary": "Rappel demandé"})],
                               env={**sender_env, "MESSAGE_ID": "msg_from_the_shell_sender"}, capture_output=True, text=True,
                               timeout=60)
        assert shell.stdout.strip() == '{"status":"recorded"} 202', shell.stderr
        again = subprocess.run([sys.executable, str(EXAMPLES / "send_call.py"), json.dumps(CALL)], env=sender_env,
                               capture_output=True, text=True, timeout=60)
        assert again.stdout.startswith("202 "), again.stderr

        dossier_body = _api(url, f"/api/v1/seekers/{seeker['subject_id']}/dossier", seeker_token)
        assert isinstance(dossier_body, dict)
        assert sorted(c["summary"].rsplit(": ", 1)[-1] for c in dossier_body["contacts"]) == [
            "Question sur une formation de cariste", "Rappel demandé"]
    finally:
        server.terminate()
        server.wait(20)
        shutil.rmtree(instance, ignore_errors=True)

#!/usr/bin/env python3
"""Throughput of the assigned advisor's dossier read, relative to ``GET /healthz``.

Stand-alone: it sets up a throw-away instance (SQLite, PostgreSQL or both), serves it with the
production server (``dossier serve``: gunicorn, sync workers), and drives it over loopback with
concurrent clients, in the same run:

1. ``GET /healthz``: the baseline (a bare route through the same app, logging and server);
2. ``GET /api/v1/seekers/{subject_id}/dossier`` with the assigned advisor's token: token check,
   access decision, reads, decryption, commit.

It prints, per database and per (workers, clients) pair, both rates, their ratio, the latency
percentiles, the non-2xx count and the load tool used; then one summary line per database.
Every response is counted by status (a 3xx or 4xx is a failure, not a request served).

On a shared machine the rates move with other people's work, so each phase also reads /proc:
the server's CPU time per request (and PostgreSQL's, for the benchmark's own database), the load
generator's cores, the cores other processes took ("other load") and the cores left idle. The
ratio of CPU per request is far steadier than the ratio of rates; ``--repeat`` measures each pair
several times, ``--settle`` waits for a quiet machine, and the target verdict uses undisturbed
pairs only. A phase that leaves cores idle is not CPU-bound: it waits (locks, round trips).

The load generator is ``wrk`` when it is on PATH (Debian package ``wrk``), otherwise a pure-Python
client: one process per client, each with one raw keep-alive socket (it reconnects when the server
closes the connection, which gunicorn's sync workers do after every response).

Usage (from the project root)::

    .venv/bin/python bench/dossier_read.py [--database sqlite|postgresql|both]
        [--seconds N] [--clients N[,N...]] [--workers N[,N...]] [--tool auto|wrk|python]
        [--repeat N] [--settle SECONDS] [--set NAME=VALUE] [--json FILE]

See docs/performance.md for what the figures mean and the latest results.

Traffic goes to 127.0.0.1 only; every phase is bounded in time; every process started here is
stopped before the script returns (terminate, then kill after a timeout).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL_TEMPLATE = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
SERVER_START_TIMEOUT = 60.0
SERVER_STOP_TIMEOUT = 25.0  # gunicorn's graceful_timeout is 20 s
SOCKET_TIMEOUT = 10.0
TARGET_RATIO_SQLITE = 0.35


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class PhaseResult:
    name: str
    path: str
    tool: str
    seconds: float
    requests: int
    non_2xx: int
    errors: int
    rps: float
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    # CPU accounting over the measured window (from /proc): the server's processes, the load
    # generator's, and everything else on the machine (other users of a shared machine).
    server_cpu_ms_per_request: float | None = None
    database_cpu_ms_per_request: float | None = None  # PostgreSQL backends of the benchmark's database
    loadgen_cores: float | None = None
    other_cores: float | None = None
    # cores left idle: a phase that leaves cores idle is not CPU-bound (it waits on locks or I/O)
    idle_cores: float | None = None


@dataclass
class RunResult:
    database: str
    workers: int
    clients: int
    tool: str
    healthz: PhaseResult
    dossier: PhaseResult

    repeats: list[tuple[PhaseResult, PhaseResult]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.dossier.rps / self.healthz.rps if self.healthz.rps else 0.0

    @property
    def quietest(self) -> tuple[PhaseResult, PhaseResult]:
        """The repeat during which other processes used the least CPU (a shared machine's best figure)."""
        pairs = self.repeats or [(self.healthz, self.dossier)]
        return min(pairs, key=lambda pair: max(pair[0].other_cores or 0.0, pair[1].other_cores or 0.0))

    @property
    def cpu_ratio(self) -> float | None:
        """healthz's CPU per request over the dossier read's (server processes, plus PostgreSQL's
        backends): the throughput ratio of a CPU-bound machine, much less sensitive to other load
        than the rates themselves."""
        h, d = self.healthz.server_cpu_ms_per_request, self.dossier.server_cpu_ms_per_request
        if not h or not d:
            return None
        # the database's own processes share the same cores (PostgreSQL's backends)
        return (h + (self.healthz.database_cpu_ms_per_request or 0)) / (d + (self.dossier.database_cpu_ms_per_request or 0))


# --------------------------------------------------------------------------------------------
# Small helpers


def log(message: str) -> None:
    print(message, flush=True)


def dossier_executable() -> str:
    """The console script of the interpreter running this file (the venv's), else PATH's."""
    beside = Path(sys.executable).parent / "dossier"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("dossier")
    if not found:
        sys.exit("error: the `dossier` console script is not installed (pip install -e . in the venv)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of these processes (0 for one that is gone), from /proc/PID/stat."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return total / _CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds spent busy by all cores since boot, from /proc/stat (0 where there is none)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, IndexError, ValueError):
        return 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    guest = sum(values[8:10]) if len(values) > 9 else 0  # already counted in user and nice
    return (sum(values) - idle - guest) / _CLK_TCK


@dataclass(frozen=True)
class Watched:
    """The processes whose CPU time a phase accounts for: the server's, the database's."""

    server: Sequence[int] = ()
    database: Sequence[int] = ()


@dataclass
class CpuSample:
    at: float
    busy: float
    server: float
    database: float
    loadgen: float

    @staticmethod
    def take(watched: Watched, loadgen: float) -> CpuSample:
        return CpuSample(time.monotonic(), machine_busy_seconds(), process_cpu_seconds(watched.server),
                         process_cpu_seconds(watched.database), loadgen)


def account_cpu(phase: PhaseResult, before: CpuSample, after: CpuSample) -> None:
    wall = after.at - before.at
    if wall <= 0 or after.busy <= 0:
        return
    server = after.server - before.server
    database = after.database - before.database
    loadgen = after.loadgen - before.loadgen
    if phase.requests:
        scale = 1000 * (phase.seconds / wall) / phase.requests
        phase.server_cpu_ms_per_request = server * scale
        if after.database or before.database:
            phase.database_cpu_ms_per_request = database * scale
    phase.loadgen_cores = loadgen / wall
    phase.other_cores = max(0.0, (after.busy - before.busy) - server - database - loadgen) / wall
    phase.idle_cores = max(0.0, (os.cpu_count() or 1) - (after.busy - before.busy) / wall)


def settle(max_wait: float, threshold: float) -> None:
    """On a shared machine: wait (at most ``max_wait`` seconds) until other processes use less than
    ``threshold`` cores, measured over one second while the benchmark itself is idle."""
    if max_wait <= 0:
        return
    deadline = time.monotonic() + max_wait
    while True:
        before = machine_busy_seconds()
        time.sleep(1.0)
        busy = machine_busy_seconds() - before
        if busy < threshold:
            return
        if time.monotonic() >= deadline:
            log(f"    (the machine is still busy: {busy:.2f} cores used by other processes; measuring anyway)")
            return
        time.sleep(1.0)


def children_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


SOURCE_FOLDERS = ("core", "audit", "consent", "config", "plugins", "migrations")


def source_fingerprint() -> str | None:
    """A short hash of the service's source files (the project root is the folder above bench/),
    to tell whether the code changed while a long run went on."""
    import hashlib

    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    found = False
    for folder in SOURCE_FOLDERS:
        for path in sorted((root / folder).rglob("*.py")) if (root / folder).is_dir() else []:
            found = True
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            try:
                digest.update(path.read_bytes())
            except OSError:
                pass
    return digest.hexdigest()[:12] if found else None


def run_cli(env: dict[str, str], *args: str, timeout: float = 120.0) -> str:
    """Run one ``dossier`` command; its standard output, or exit with its error."""
    proc = subprocess.run(
        [dossier_executable(), *args], env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise SetupError(f"`dossier {' '.join(args)}` exited {proc.returncode}:\n{tail}")
    return proc.stdout


class SetupError(RuntimeError):
    pass


def http_json(port: int, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=SOCKET_TIMEOUT)
    try:
        headers = {"Accept": "application/json"}
        payload = None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode(errors="replace")
        return response.status, data
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# Databases and instances


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, dropped at the end; yields its SQLAlchemy URL."""
    import psycopg  # the service's own driver, installed in its venv

    name = f"dossier_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=10) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL_TEMPLATE.format(name=name)
    finally:
        try:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=10) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception as exc:  # report, never hide the benchmark's own exception
            log(f"warning: could not drop database {name}: {exc}")


@contextmanager
def instance(database: str, settings: Sequence[str] = ()) -> Iterator[dict[str, str]]:
    """A throw-away instance folder (and database); yields the environment that names it.

    ``settings`` are ``NAME=VALUE`` service settings, passed as ``DOSSIER_NAME`` variables.
    """
    with tempfile.TemporaryDirectory(prefix=f"dossier-bench-{database}-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
        for setting in settings:
            name, _, value = setting.partition("=")
            env["DOSSIER_" + name.strip().upper().removeprefix("DOSSIER_")] = value
        env["DOSSIER_INSTANCE_PATH"] = str(Path(tmp) / "instance")
        if database == "postgresql":
            with postgres_database() as url:
                env["DOSSIER_DATABASE_URL"] = url
                yield env
        else:
            yield env


def init_instance(env: dict[str, str], retry_minutes: float) -> None:
    """``dossier init``; while the default taxonomy is still missing, wait and retry."""
    deadline = time.monotonic() + retry_minutes * 60
    while True:
        try:
            run_cli(env, "init", timeout=300)
            return
        except SetupError as exc:
            text = str(exc)
            waiting_for_taxonomy = "taxonomy" in text and ("no occupations" in text or "data" in text)
            if not waiting_for_taxonomy or time.monotonic() + 60 > deadline:
                raise
            log("  dossier init: the default taxonomy (core/taxonomy/data/) is not there yet; retrying in 60 s")
            time.sleep(60)


@dataclass
class Fixture:
    subject_id: str
    advisor_token: str
    seeker_token: str


def create_fixture(env: dict[str, str]) -> tuple[str, str, str]:
    """An advisor, a seeker assigned to them; returns (advisor, seeker, subject_id)."""
    suffix = secrets.token_hex(3)
    advisor, seeker = f"bench-advisor-{suffix}", f"bench-seeker-{suffix}"
    run_cli(env, "users", "add", advisor, "--role", "advisor")
    created = json.loads(run_cli(env, "users", "add", seeker, "--role", "seeker"))
    subject_id = created.get("subject_id")
    if not subject_id:
        raise SetupError(f"`dossier users add --role seeker` printed no subject_id: {created}")
    run_cli(env, "assign", "--advisor", advisor, "--seeker", seeker)
    return advisor, seeker, subject_id


def fill_dossier(port: int, fixture: Fixture, contacts: int) -> None:
    """The seeker's identity (seeker's token) and a few contacts (advisor's token), over HTTP."""
    base = f"/api/v1/seekers/{fixture.subject_id}"
    identity = {
        "name": "Camille Martin",
        "email": f"camille.martin.{secrets.token_hex(3)}@example.org",
        "phone": "+33 6 12 34 56 78",
        "national_id": None,
        "birth_date": "1990-04-12",
        "address": {"street": "12 rue des Lilas", "postal_code": "69003", "city": "Lyon"},
    }
    status, data = http_json(port, "PUT", base + "/identity", fixture.seeker_token, identity)
    if status // 100 != 2:
        raise SetupError(f"PUT identity answered {status}: {data}")
    for i in range(contacts):
        contact = {
            "channel": "phone",
            "occurred_at": f"2026-11-{20 + i % 8:02d}T10:00:00+01:00",
            "summary": f"Entretien téléphonique n°{i + 1} : point sur les candidatures et la formation.",
        }
        status, data = http_json(port, "POST", base + "/contacts", fixture.advisor_token, contact)
        if status // 100 != 2:
            raise SetupError(f"POST contact answered {status}: {data}")


def check_dossier(port: int, fixture: Fixture, contacts: int) -> dict[str, Any]:
    status, data = http_json(port, "GET", f"/api/v1/seekers/{fixture.subject_id}/dossier", fixture.advisor_token)
    if status != 200 or not isinstance(data, dict):
        raise SetupError(f"the advisor's dossier read answered {status}: {data}")
    if not data.get("identity") or len(data.get("contacts") or []) < contacts:
        raise SetupError(f"the dossier read did not return the identity and the contacts written: {data}")
    return data


# --------------------------------------------------------------------------------------------
# The server


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM to it when this script dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Server:
    """``dossier serve`` as a child process (its own process group), stopped for sure at the end."""

    def __init__(self, env: dict[str, str], workers: int, log_path: Path) -> None:
        self.env = env
        self.workers = workers
        self.port = free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [dossier_executable(), "serve", "--host", HOST, "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SetupError(f"`dossier serve` exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if http_json(self.port, "GET", "/healthz")[0] == 200:
                    # every worker must be up before the clock starts: give the others a moment
                    time.sleep(0.5)
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SetupError(f"`dossier serve` did not answer /healthz within {SERVER_START_TIMEOUT:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()  # gunicorn's master stops its workers gracefully on SIGTERM
            try:
                proc.wait(SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc is not None:
            # the group is this child's own (start_new_session): kill any worker left behind
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if getattr(self, "_log", None) is not None and not self._log.closed:
            self._log.close()

    def all_pids(self) -> list[int]:
        return ([self.proc.pid] if self.proc is not None else []) + self.worker_pids()

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []


# --------------------------------------------------------------------------------------------
# Load generators


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


# Counts every response by status in each wrk thread and prints the totals at the end, so that
# a 3xx (which wrk's own "Non-2xx or 3xx" line lets pass) is not taken for a success either.
WRK_STATUS_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for code, count in pairs(t:get("statuses")) do total[code] = (total[code] or 0) + count end
  end
  for code, count in pairs(total) do io.write(string.format("status %d %d\\n", code, count)) end
end
"""


_DURATION = re.compile(r"^([\d.]+)(us|ms|s|m)$")


def _to_ms(text: str) -> float:
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(text)
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(port: int, path: str, token: str | None, clients: int, seconds: int, threads: int, name: str,
            watched: Watched | None = None) -> PhaseResult:
    script = Path(tempfile.gettempdir()) / f"dossier-bench-wrk-{os.getpid()}.lua"
    script.write_text(WRK_STATUS_SCRIPT)
    args = ["wrk", "-t", str(max(1, min(threads, clients))), "-c", str(clients), "-d", f"{seconds}s",
            "--timeout", f"{int(SOCKET_TIMEOUT)}s", "--latency", "-s", str(script)]
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    args.append(f"http://{HOST}:{port}{path}")
    watched = watched or Watched()
    before = CpuSample.take(watched, children_cpu_seconds())
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, stdin=subprocess.DEVNULL)
    finally:
        script.unlink(missing_ok=True)
    after = CpuSample.take(watched, children_cpu_seconds())
    out = proc.stdout
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited {proc.returncode}: {proc.stderr.strip() or out.strip()}")
    requests = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", out).group(1))  # type: ignore[union-attr]
    duration_match = re.search(r"\d+ requests in ([\d.]+\w+)", out)
    measured = _to_ms(duration_match.group(1)) / 1000 if duration_match else float(seconds)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx_match = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non_2xx = int(non_2xx_match.group(1)) if non_2xx_match else 0
    errors = 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        # wrk counts a read error for each connection the server closed after its response
        # (gunicorn's sync workers close every connection); connect/write/timeout errors are real.
        connect, _read, write, timeout = (int(g) for g in socket_errors.groups())
        errors = connect + write + timeout
    statuses = {m.group(1): int(m.group(2)) for m in re.finditer(r"^status (\d+) (\d+)$", out, re.MULTILINE)}
    if statuses:
        non_2xx = max(non_2xx, sum(n for code, n in statuses.items() if not code.startswith("2")))
    latency = {}
    for label in ("50", "90", "99"):
        match = re.search(rf"^\s+{label}%\s+(\S+)", out, re.MULTILINE)
        if match:
            latency[label] = _to_ms(match.group(1))
    result = PhaseResult(
        name=name, path=path, tool="wrk", seconds=measured, requests=requests, non_2xx=non_2xx, errors=errors,
        rps=rps, p50_ms=latency.get("50"), p90_ms=latency.get("90"), p99_ms=latency.get("99"),
        statuses=dict(sorted(statuses.items())),
    )
    if watched.server:
        account_cpu(result, before, after)
    return result


def _read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, bool]:
    """Read one HTTP/1.1 response from ``sock``; returns (status, server_keeps_connection)."""
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            break
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before the response head")
        buffer += chunk
    head = bytes(buffer[:end]).decode("latin-1")
    del buffer[: end + 4]
    lines = head.split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    keep = headers.get("connection", "").lower() != "close" and not lines[0].startswith("HTTP/1.0")
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(buffer) < length:
            chunk = sock.recv(max(65536, length - len(buffer)))
            if not chunk:
                raise ConnectionError("connection closed inside the body")
            buffer += chunk
        del buffer[:length]
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            while b"\r\n" not in buffer:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed inside a chunk")
                buffer += chunk
            line_end = buffer.find(b"\r\n")
            size = int(bytes(buffer[:line_end]).split(b";")[0], 16)
            need = line_end + 2 + size + 2
            while len(buffer) < need:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed inside a chunk")
                buffer += chunk
            del buffer[:need]
            if size == 0:
                break
    else:  # body until the server closes
        while sock.recv(65536):
            pass
        buffer.clear()
        keep = False
    return status, keep


def _python_client(port: int, request: bytes, measure_from: float, stop_at: float, queue: Any) -> None:
    """One client: a keep-alive socket, requests back to back until ``stop_at`` (monotonic)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    sock: socket.socket | None = None
    buffer = bytearray()
    clock = time.monotonic
    cpu_start: float | None = None
    cpu_end: float | None = None
    try:
        while True:
            started = clock()
            if cpu_start is None and started >= measure_from:
                cpu_start = time.process_time()
            if started >= stop_at:
                cpu_end = time.process_time()
                break
            try:
                if sock is None:
                    sock = socket.create_connection((HOST, port), timeout=SOCKET_TIMEOUT)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    buffer.clear()
                sock.sendall(request)
                status, keep = _read_response(sock, buffer)
            except (OSError, ValueError, IndexError):
                if sock is not None:
                    sock.close()
                    sock = None
                if started >= measure_from:
                    errors += 1
                time.sleep(0.001)
                continue
            finished = clock()
            if not keep:
                sock.close()
                sock = None
            if started >= measure_from and finished <= stop_at:
                latencies.append(finished - started)
                statuses[status] = statuses.get(status, 0) + 1
    finally:
        if sock is not None:
            sock.close()
        cpu = (cpu_end or time.process_time()) - cpu_start if cpu_start is not None else 0.0
        queue.put((latencies, statuses, errors, cpu))


def run_python(port: int, path: str, token: str | None, clients: int, seconds: float, warmup: float, name: str,
               watched: Watched | None = None) -> PhaseResult:
    headers = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}", "Accept: application/json", "Connection: keep-alive"]
    if token:
        headers.append(f"Authorization: Bearer {token}")
    request = ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1")
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start = time.monotonic() + 0.3  # time for every process to start
    measure_from = start + warmup
    stop_at = measure_from + seconds
    procs = [ctx.Process(target=_python_client, args=(port, request, measure_from, stop_at, queue), daemon=True)
             for _ in range(clients)]
    for proc in procs:
        proc.start()
    results = []
    deadline = stop_at + SOCKET_TIMEOUT + 10
    before = after = None
    try:
        time.sleep(max(0.0, measure_from - time.monotonic()))
        before = CpuSample.take(watched or Watched(), 0.0)
        time.sleep(max(0.0, stop_at - time.monotonic()))
        after = CpuSample.take(watched or Watched(), 0.0)
        for _ in procs:
            try:
                results.append(queue.get(timeout=max(1.0, deadline - time.monotonic())))
            except Exception:  # queue.Empty: a client died without reporting; count it as failed
                results.append(([], {}, 1, 0.0))
    finally:
        for proc in procs:
            proc.join(timeout=max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
    latencies = sorted(value for result in results for value in result[0])
    statuses: dict[int, int] = {}
    for _, status_counts, _, _ in results:
        for status, count in status_counts.items():
            statuses[status] = statuses.get(status, 0) + count
    errors = sum(result[2] for result in results)
    requests = sum(statuses.values())
    non_2xx = sum(count for status, count in statuses.items() if status // 100 != 2)
    result = PhaseResult(
        name=name, path=path, tool="python", seconds=seconds, requests=requests, non_2xx=non_2xx, errors=errors,
        rps=requests / seconds,
        p50_ms=_ms(percentile(latencies, 0.50)), p90_ms=_ms(percentile(latencies, 0.90)),
        p99_ms=_ms(percentile(latencies, 0.99)), statuses={str(k): v for k, v in sorted(statuses.items())},
    )
    if watched and watched.server and before is not None and after is not None:
        after.loadgen = sum(r[3] for r in results)
        account_cpu(result, before, after)
    return result


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def run_phase(tool: str, port: int, path: str, token: str | None, clients: int, seconds: float, warmup: float,
              wrk_threads: int, name: str, watched: Watched | None = None) -> PhaseResult:
    if tool == "wrk":
        # wrk takes whole seconds; the warm-up is a separate, discarded run
        if warmup > 0:
            run_wrk(port, path, token, clients, max(1, round(warmup)), wrk_threads, name)
        return run_wrk(port, path, token, clients, max(1, round(seconds)), wrk_threads, name, watched)
    return run_python(port, path, token, clients, seconds, warmup, name, watched)


# --------------------------------------------------------------------------------------------
# Reporting


def _fmt_ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def valid(phase: PhaseResult) -> bool:
    return phase.non_2xx == 0 and phase.errors == 0 and phase.requests > 0


def print_phase(phase: PhaseResult, indent: str = "    ") -> None:
    flag = "" if valid(phase) else "   <-- NOT ALL 2xx: this figure is not valid"
    log(f"{indent}{phase.name:<8} {phase.rps:8.1f} req/s ({phase.requests} in {phase.seconds:.1f} s)  "
        f"p50 {_fmt_ms(phase.p50_ms)}  p90 {_fmt_ms(phase.p90_ms)}  p99 {_fmt_ms(phase.p99_ms)}  "
        f"non-2xx={phase.non_2xx} errors={phase.errors}  "
        f"server cpu {_fmt(phase.server_cpu_ms_per_request, '.3f')} ms/req, "
        + (f"postgres cpu {phase.database_cpu_ms_per_request:.3f} ms/req, " if phase.database_cpu_ms_per_request is not None else "")
        + f"load gen {_fmt(phase.loadgen_cores, '.2f')} cores, other load {_fmt(phase.other_cores, '.2f')} cores, "
        f"idle {_fmt(phase.idle_cores, '.2f')} cores{flag}")


def print_run(result: RunResult) -> None:
    log(f"  workers={result.workers} clients={result.clients} tool={result.tool} "
        f"repeats={max(1, len(result.repeats))}")
    if len(result.repeats) > 1:
        quiet = result.quietest
        for i, (h, d) in enumerate(result.repeats, 1):
            log(f"   repeat {i}: healthz {h.rps:.0f} req/s, dossier {d.rps:.0f} req/s, ratio {d.rps / h.rps if h.rps else 0:.3f}, "
                f"other load {_fmt(h.other_cores, '.2f')}/{_fmt(d.other_cores, '.2f')} cores"
                + ("   <- quietest" if (h, d) == quiet else ""))
        log("   median of the repeats:")
    print_phase(result.healthz)
    print_phase(result.dossier)
    noisy = max(result.healthz.other_cores or 0, result.dossier.other_cores or 0)
    log(f"    ratio dossier/healthz = {result.ratio:.3f} (throughput); "
        f"{_fmt(result.cpu_ratio, '.3f')} (server CPU per request)"
        + (f"   note: other processes used up to {noisy:.2f} cores meanwhile: a noisy figure" if noisy > 0.25 else ""))


QUIET_CORES = 0.25  # other processes' CPU below which a measurement counts as undisturbed


def _pair_ratio(pair: tuple[PhaseResult, PhaseResult]) -> float:
    return pair[1].rps / pair[0].rps if pair[0].rps else 0.0


def _quiet(pair: tuple[PhaseResult, PhaseResult]) -> bool:
    return all(phase.other_cores is not None and phase.other_cores < QUIET_CORES for phase in pair)


def summary_line(database: str, results: list[RunResult]) -> str:
    if not results:
        return f"SUMMARY {database}: no result"
    parts = []
    for r in results:
        part = (f"w{r.workers}/c{r.clients}: healthz {r.healthz.rps:.0f} dossier {r.dossier.rps:.0f} req/s "
                f"ratio {r.ratio:.3f} (cpu {_fmt(r.cpu_ratio, '.3f')}")
        if len(r.repeats) > 1:
            part += f"; quietest repeat {_pair_ratio(r.quietest):.3f}"
        parts.append(part + ")")
    all_valid = all(valid(h) and valid(d) for r in results for h, d in (r.repeats or [(r.healthz, r.dossier)]))
    target = ""
    if database == "sqlite":
        # The verdict uses undisturbed pairs only: when other processes take CPU, /healthz loses
        # more than the dossier read does and the ratio looks better than it is.
        quiet = [pair for r in results for pair in (r.repeats or [(r.healthz, r.dossier)]) if _quiet(pair)]
        if quiet:
            best = max(_pair_ratio(pair) for pair in quiet)
            verdict = "MET" if best >= TARGET_RATIO_SQLITE else "MISSED"
            target = f"; target ratio >= {TARGET_RATIO_SQLITE}: {verdict} (best undisturbed ratio {best:.3f})"
        else:
            best_cpu = max((r.cpu_ratio or 0.0) for r in results)
            target = (f"; target ratio >= {TARGET_RATIO_SQLITE}: UNCERTAIN (no undisturbed measurement; "
                      f"best CPU-per-request ratio {best_cpu:.3f})")
    return (f"SUMMARY {database}: tool={results[0].tool} " + " | ".join(parts) + target
            + ("" if all_valid else "; WARNING: some responses were not 2xx or failed"))


def _median_phase(phases: list[PhaseResult]) -> PhaseResult:
    ordered = sorted(phases, key=lambda p: p.rps)
    return ordered[(len(ordered) - 1) // 2]


# --------------------------------------------------------------------------------------------
# Main


def postgres_backend_pids(database_url: str) -> list[int]:
    """The PostgreSQL server processes serving the benchmark's database (its connection pools)."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=10) as admin:
            rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)).fetchall()
    except Exception:  # accounting only: never fail the run for it
        return []
    return [int(row[0]) for row in rows]


def watch(server: Server, env: dict[str, str]) -> Watched:
    url = env.get("DOSSIER_DATABASE_URL", "")
    return Watched(server.all_pids(), postgres_backend_pids(url) if url.startswith("postgresql") else ())


def bench_database(database: str, args: argparse.Namespace, tool: str) -> list[RunResult]:
    log(f"\n== {database} ==")
    results: list[RunResult] = []
    with instance(database, args.set) as env:
        if args.set:
            log(f"  settings: {', '.join(args.set)}")
        if database == "postgresql":
            log(f"  database: {env['DOSSIER_DATABASE_URL']}")
        log(f"  instance: {env['DOSSIER_INSTANCE_PATH']}")
        init_instance(env, args.init_retry_minutes)
        advisor, seeker, subject_id = create_fixture(env)
        fixture = Fixture(subject_id, run_cli(env, "token", advisor, "--ttl", "86400").strip(),
                          run_cli(env, "token", seeker, "--ttl", "86400").strip())
        dossier_path = f"/api/v1/seekers/{subject_id}/dossier"
        filled = False
        for workers in args.workers:
            # `dossier init` is idempotent: run again, it keeps the schema at the newest migration
            # when the service's code moves while a long run goes on
            init_instance(env, args.init_retry_minutes)
            server_log = Path(env["DOSSIER_INSTANCE_PATH"]).parent / f"server-{workers}-workers.log"
            with Server(env, workers, server_log) as server:
                if not filled:
                    fill_dossier(server.port, fixture, args.contacts)
                    filled = True
                data = check_dossier(server.port, fixture, args.contacts)
                log(f"  server: port {server.port}, {workers} sync workers (pids {server.worker_pids()}); "
                    f"dossier sections {sorted(k for k in data if k not in ('subject_id', 'withheld'))}, "
                    f"withheld {[w.get('section') for w in data.get('withheld', [])]}")
                for clients in args.clients:
                    pairs: list[tuple[PhaseResult, PhaseResult]] = []
                    for _ in range(args.repeat):
                        settle(args.settle, args.settle_threshold)
                        healthz = run_phase(tool, server.port, "/healthz", None, clients, args.seconds, args.warmup,
                                            args.wrk_threads, "healthz", watch(server, env))
                        settle(args.settle, args.settle_threshold)
                        dossier = run_phase(tool, server.port, dossier_path, fixture.advisor_token, clients,
                                            args.seconds, args.warmup, args.wrk_threads, "dossier", watch(server, env))
                        pairs.append((healthz, dossier))
                    result = RunResult(database, workers, clients, tool, _median_phase([h for h, _ in pairs]),
                                       _median_phase([d for _, d in pairs]), pairs)
                    print_run(result)
                    results.append(result)
                    if any(not valid(d) for _, d in pairs):
                        log(f"    server log tail:\n{server.log_tail(10)}")
    return results


def _int_list(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("expected positive whole numbers, comma-separated")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per phase (default 10)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="warm-up seconds before each phase (default 2, or 1 when --seconds < 5)")
    parser.add_argument("--clients", type=_int_list, default=[8], help="concurrent clients, e.g. 8 or 4,8,16 (default 8)")
    parser.add_argument("--workers", type=_int_list, default=[2], help="gunicorn sync workers, e.g. 2 or 2,3 (default 2)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure each (healthz, dossier) pair this many times and report the medians (default 1)")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="on a shared machine: before each phase, wait up to this many seconds for other "
                             "processes to go quiet (default 0: do not wait)")
    parser.add_argument("--settle-threshold", type=float, default=0.15,
                        help="cores that other processes may use for the machine to count as quiet (default 0.15)")
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator: wrk when on PATH (auto), or the pure-Python client")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1: leaves the cores to the server)")
    parser.add_argument("--contacts", type=int, default=3, help="contacts recorded in the dossier (default 3)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a service setting for the throw-away instance, e.g. --set AUDIT_SEQUENCE_INTERVAL=5 "
                             "(passed as DOSSIER_NAME; repeatable)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    parser.add_argument("--init-retry-minutes", type=float, default=20.0,
                        help="how long to retry `dossier init` while the default taxonomy is missing (default 20)")
    args = parser.parse_args(argv)
    for setting in args.set:
        if "=" not in setting or not setting.split("=", 1)[0].strip():
            parser.error(f"--set expects NAME=VALUE, got {setting!r}")
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    if args.warmup is None:
        args.warmup = 2.0 if args.seconds >= 5 else 1.0
    args.seconds = min(args.seconds, 600.0)
    args.repeat = min(max(args.repeat, 1), 20)
    args.settle = min(max(args.settle, 0.0), 600.0)
    args.warmup = min(max(args.warmup, 0.0), 60.0)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "python"
    elif args.tool == "wrk" and not shutil.which("wrk"):
        log("wrk is not on PATH; using the pure-Python client")
        tool = "python"
    else:
        tool = args.tool
    if tool == "wrk" and args.seconds != round(args.seconds):
        log(f"note: wrk takes whole seconds; measuring {max(1, round(args.seconds))} s")
    databases = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    log(f"dossier read benchmark: {platform.node()} nproc={os.cpu_count()} python={platform.python_version()} "
        f"load tool={tool}{' (wrk not found on PATH: pure-Python client)' if tool == 'python' and args.tool == 'auto' else ''} "
        f"workers={args.workers} clients={args.clients} seconds={args.seconds:g} warmup={args.warmup:g}")
    all_results: dict[str, list[RunResult]] = {}
    failed = False
    changed: list[str] = []
    for database in databases:
        before = source_fingerprint()
        try:
            all_results[database] = bench_database(database, args, tool)
        except SetupError as exc:
            log(f"  FAILED: {exc}")
            all_results[database] = []
            failed = True
        after = source_fingerprint()
        log(f"  service source fingerprint: {after}" + ("" if before == after else f" (was {before} when {database} began)"))
        if before != after:
            changed.append(database)
    log("")
    for database in changed:
        log(f"WARNING: the service's source files changed during the {database} run: its figures mix two versions")
    for database in databases:
        log(summary_line(database, all_results[database]))
    if args.json:
        args.json.write_text(json.dumps(
            {"nproc": os.cpu_count(), "python": platform.python_version(), "tool": tool,
             "source_fingerprint": source_fingerprint(), "source_changed_during": changed, "settings": args.set,
             "seconds": args.seconds, "warmup": args.warmup,
             "results": {db: [dict(asdict(r), ratio=r.ratio, cpu_ratio=r.cpu_ratio) for r in rs] for db, rs in all_results.items()}},
            indent=2))
    invalid = any(not (valid(h) and valid(d)) for rs in all_results.values() for r in rs
                  for h, d in (r.repeats or [(r.healthz, r.dossier)]))
    return 1 if failed or invalid else 0


def _terminate(signum: int, _frame: Any) -> None:
    # SIGTERM unwinds like Ctrl-C: the server is stopped and the database dropped on the way out
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)

"""Delivery benchmark: alerts sent per second through the outbox, and from a search's commit to
the advisor's inbox and to a webhook receiver.

    .venv/bin/python bench/delivery.py [--database sqlite|postgresql|both] [--messages 3000] [--searches 200]

For each database, against a local webhook receiver (HTTP/1.1, keep-alive, answering 204):

- the baseline, measured first on the same receiver and the same number of messages: the naive
  outbox, one message at a time, each claimed in a transaction (``FOR UPDATE SKIP LOCKED``, a
  lease) and recorded in another, over one kept-open HTTP connection;
- ``dossier worker`` processes, 1, 2 and 4 of them (claims of ``DELIVERY_BATCH`` = 50, attempts
  recorded together): messages per second from the moment the messages fall due to the last
  one recorded delivered, and the ratio to the baseline;
- searches by an employer through the API, in an app running the server's background threads
  (the embedded default: events and deliveries woken by the commit): the time from the search's
  answer (its commit is before it) to its alert in the advisor's inbox, and to its webhook at the
  receiver, p50 and p95.

Its last line is ``SUMMARY delivery ...`` with the figures of every database run.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

from config.settings import load_settings  # noqa: E402
from consent.store import load_catalogue  # noqa: E402
from core.app import create_app  # noqa: E402
from core.bootstrap import initialise  # noqa: E402
from core.delivery import store, webhooks  # noqa: E402
from core.delivery.models import alerts, deliveries  # noqa: E402
from core.delivery.service import add_endpoint  # noqa: E402
from core.delivery.worker import _signature, thin_data  # noqa: E402
from core.identity import accounts  # noqa: E402
from core.identity.roles import Role  # noqa: E402
from core.models import new_id  # noqa: E402
from core.runtime import runtime  # noqa: E402
from core.server import start_background_work  # noqa: E402
from core.taxonomy.service import load_default  # noqa: E402

PG_SERVER = os.environ.get("TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
DOSSIER = Path(sys.executable).with_name("dossier")
WORKER_COUNTS = (1, 2, 4)


class Receiver:
    """A webhook endpoint answering 204 at once; counts what it received, and when each search's came."""

    def __init__(self) -> None:
        self.count = 0
        self.arrivals: dict[str, float] = {}  # search id -> time.time() of its webhook
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                at = time.time()
                marker = body.find(b'"search_id":"')
                with receiver._lock:
                    receiver.count += 1
                    if marker >= 0:
                        receiver.arrivals[body[marker + 13: marker + 49].decode()] = at
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def queue(rt: Any, advisor_id: str, endpoint_id: str, count: int, due_in: float) -> float:
    """``count`` alerts, each with its webhook delivery, in one transaction, all due at the same
    moment ``due_in`` seconds from now; that moment (time.time())."""
    now = rt.clock()
    due = now + timedelta(seconds=due_in)
    alert_rows, delivery_rows = [], []
    for n in range(count):
        alert_id = new_id()
        alert_rows.append({"id": alert_id, "advisor_id": advisor_id, "plugin": "alerts", "kind": "employer_search",
                           "employer_id": None, "search_id": None, "match_count": n % 7, "no_match": n % 7 == 0,
                           "content": '{"title_fr":"t","title_en":"t","text_fr":"x","text_en":"x","criteria":{}}',
                           "group_key": None, "group_until": None, "occurrences": 1, "created_at": now, "last_at": now,
                           "read_at": None})
        delivery_rows.append({"id": new_id(), "alert_id": alert_id, "channel": "webhook", "target": endpoint_id,
                              "event_type": "alert.employer_search", "state": "pending", "attempts": 0,
                              "next_attempt_at": due, "created_at": now})
    with rt.transaction() as conn:
        conn.execute(insert(alerts), alert_rows)
        conn.execute(insert(deliveries), delivery_rows)
    return due.timestamp()


def wait_delivered(rt: Any, expected: int, timeout: float = 600.0) -> float:
    """When the last of ``expected`` deliveries was recorded delivered (time.time())."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with rt.engine.connect() as conn:
            done, last = conn.execute(select(func.count(), func.max(deliveries.c.finished_at))
                                      .where(deliveries.c.state == "delivered")).one()
        if done >= expected:
            return float((last if last.tzinfo else last.replace(tzinfo=UTC)).timestamp())
        time.sleep(0.05)
    raise RuntimeError(f"only {done} of {expected} deliveries were delivered in {timeout:g} s")


def baseline(rt: Any, advisor_id: str, endpoint_id: str, count: int) -> float:
    """Messages per second, one at a time: claim one in a transaction, post it, record it in another."""
    start = queue(rt, advisor_id, endpoint_id, count, 0.0)
    lease_seconds = rt.settings.DELIVERY_LEASE_SECONDS
    sent = 0
    with webhooks.Sender(10.0) as client:
        while sent < count:
            now = rt.clock()
            lease = now + timedelta(seconds=lease_seconds)
            with rt.transaction() as conn:
                (row,) = store.claim(conn, now, lease, 1)
                endpoint = store.endpoint(conn, row.target)
                alert = store.alert(conn, row.alert_id)
            body = webhooks.payload(row.event_type, now, thin_data(rt, alert))
            stamp = int(now.timestamp())
            answer = client.post(endpoint.url, row.id, body, _signature(rt, endpoint, row.id, stamp, body, now), stamp)
            with rt.transaction() as conn:
                store.record_attempts(conn, [(row.id, row.attempts, now, 1, answer.delivered, answer.status, answer.outcome)])
                store.finish(conn, row.id, lease, {"state": "delivered", "finished_at": rt.clock(), "last_outcome": answer.outcome})
            sent += 1
    return count / (time.time() - start)


def with_workers(rt: Any, env: dict[str, str], advisor_id: str, endpoint_id: str, count: int, workers: int,
                 already: int) -> float:
    """Messages per second through ``workers`` `dossier worker` processes."""
    processes = [subprocess.Popen([str(DOSSIER), "worker", "--interval", "0.05"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(workers)]
    try:
        # Due once every worker is up and idle (a process start takes a second or two of a core).
        due = queue(rt, advisor_id, endpoint_id, count, 2.0 + 1.5 * workers)
        last = wait_delivered(rt, already + count)
        return count / (last - due)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(30)


def latency(app: Any, rt: Any, receiver: Receiver, employer_token: str, employer_id: str, searches: int) -> tuple[list[float], list[float]]:
    """(to the inbox, to the receiver) in ms, for each search, one after the other."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {employer_token}"}
    inbox, hook = [], []
    occupations = ["occ.welder", "occ.bricklayer", "occ.nurse", "occ.joiner"]
    for n in range(searches):
        criteria = {"occupation": occupations[n % len(occupations)], "limit": 5,
                    "min_experience_months": n % 50}
        response = client.post(f"/api/v1/employers/{employer_id}/searches", json=criteria, headers=headers)
        answered = time.time()
        assert response.status_code == 201, response.get_data(as_text=True)
        search_id = response.get_json()["search_id"]
        deadline = time.monotonic() + 30
        seen = None
        while time.monotonic() < deadline:
            with rt.engine.connect() as conn:
                seen = conn.execute(select(alerts.c.created_at).where(alerts.c.search_id == search_id)).scalar()
            if seen is not None:
                break
            time.sleep(0.001)
        inbox.append((time.time() - answered) * 1000)
        while search_id not in receiver.arrivals and time.monotonic() < deadline:
            time.sleep(0.001)
        hook.append((receiver.arrivals[search_id] - answered) * 1000)
    return inbox, hook


def run(database: str, messages: int, searches: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as folder:
        url, admin, name = "", None, ""
        if database == "postgresql":
            name = f"dossier_bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = PG_SERVER.rsplit("/", 1)[0] + "/" + name
        overrides = {"INSTANCE_PATH": folder, "DATABASE_URL": url, "LOG_LEVEL": "WARNING", "AUDIT_SEQUENCE_INTERVAL": 0}
        list(initialise(load_settings(overrides, environ={})))
        app = create_app({**overrides, "DELIVERY_IN_SERVER": False}, start=False)
        rt = runtime(app)
        env = {**os.environ, "DOSSIER_INSTANCE_PATH": folder, "DOSSIER_LOG_LEVEL": "WARNING", "DOSSIER_DELIVERY_BATCH": "50"}
        if url:
            env["DOSSIER_DATABASE_URL"] = url
        try:
            with rt.engine.begin() as conn:
                load_default(conn)
                load_catalogue(conn)
            advisor = accounts.create_account(rt, "conseiller.bench", Role.ADVISOR)
            endpoint, _ = add_endpoint(rt, receiver.url)
            rate = baseline(rt, advisor.id, endpoint.id, messages)
            figures[f"{database}_baseline"] = rate
            print(f"[{database}] baseline, one message per claim and per record: {rate:,.0f} messages/s ({messages:,} messages)")
            done = messages
            for workers in WORKER_COUNTS:
                rate = with_workers(rt, env, advisor.id, endpoint.id, messages, workers, done)
                done += messages
                figures[f"{database}_{workers}w"] = rate
                print(f"[{database}] {workers} worker(s) (dossier worker, claims of 50, attempts recorded together): "
                      f"{rate:,.0f} messages/s; ratio to the baseline {rate / figures[f'{database}_baseline']:.1f}")
            assert receiver.count >= done
            # Latency, in an app as the server runs it: background threads woken by the commit.
            rt.engine.dispose()
            # Every search an alert of its own (no grouping), so that each has its webhook.
            served = create_app({**overrides, "DELIVERY_INTERVAL": 1.0, "PLUGIN_DISPATCH_INTERVAL": 1.0,
                                 "PLUGINS": {"alerts": {"group_minutes": 0}}})
            threads = start_background_work(served)
            srt = runtime(served)
            employer = accounts.create_employer(srt, "Employeur du banc d'essai")
            accounts.assign_employer(srt, advisor.username, employer["id"])
            user = accounts.create_account(srt, "employeur.bench", Role.EMPLOYER, None, employer["id"])
            token = srt.tokens.issue(user.id, "employer", employer_id=employer["id"])
            to_inbox, to_hook = latency(served, srt, receiver, token, employer["id"], searches)
            for label, values in (("inbox", to_inbox), ("webhook", to_hook)):
                p50, p95 = float(np.percentile(values, 50)), float(np.percentile(values, 95))
                figures[f"{database}_{label}_p50"], figures[f"{database}_{label}_p95"] = p50, p95
            print(f"[{database}] from a search's commit to the advisor's inbox: p50 {figures[f'{database}_inbox_p50']:.1f} ms, "
                  f"p95 {figures[f'{database}_inbox_p95']:.1f} ms; to the webhook receiver: p50 "
                  f"{figures[f'{database}_webhook_p50']:.1f} ms, p95 {figures[f'{database}_webhook_p95']:.1f} ms "
                  f"({searches} searches, one after the other)")
            for thread in threads:
                thread.stop()
            srt.engine.dispose()
        finally:
            rt.engine.dispose()
            receiver.close()
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                admin.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--searches", type=int, default=200)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    figures: dict[str, float] = {}
    for database in (["sqlite", "postgresql"] if args.database == "both" else [args.database]):
        figures.update(run(database, args.messages, args.searches))
    shown = " ".join(f"{key}={value:.1f}" if "_p" in key else f"{key}={value:.0f}" for key, value in figures.items())
    print(f"SUMMARY delivery messages={args.messages} {shown}")


if __name__ == "__main__":
    main()

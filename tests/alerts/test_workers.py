"""`dossier worker` processes deliver the outbox at least once: a worker killed (SIGKILL) between
sending and recording leaves the delivery to another, which sends it again under the same id (the
receiver de-duplicates: once per endpoint); two workers never send the same delivery at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.delivery.models import deliveries, delivery_attempts
from core.delivery.service import alert_desk
from plugins.api import Alert
from tests.matching.test_search import BRICKLAYER, search

DOSSIER = Path(sys.executable).with_name("dossier")


def start_worker(instance: Path, database_url: str, tmp_path: Path, name: str, **settings: Any) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DOSSIER_INSTANCE_PATH": str(instance), "DOSSIER_DATABASE_URL": database_url,
           "DOSSIER_LOG_LEVEL": "WARNING", **{f"DOSSIER_{k}": str(v) for k, v in settings.items()}}
    with (tmp_path / f"{name}.log").open("wb") as log:  # the worker writes to its own copy of the file
        return subprocess.Popen([str(DOSSIER), "worker", "--interval", "0.1"], env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for(condition: Any, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def webhook_rows(rt: Any) -> list[Any]:
    with rt.engine.connect() as conn:
        return list(conn.execute(select(deliveries).where(deliveries.c.channel == "webhook")))


def test_a_worker_killed_between_sending_and_recording_is_taken_over(client, rt, cli, receiver, instance, database_url,
                                                                      tmp_path, employer, employer_advisor, published) -> None:
    assert cli("webhooks", "add", receiver.url).exit_code == 0
    receiver.hold = threading.Event()  # the receiver reads the delivery, and answers only when told
    search(client, employer, occupation=BRICKLAYER)
    first = start_worker(instance, database_url, tmp_path, "first", DELIVERY_LEASE_SECONDS=2, WEBHOOK_TIMEOUT=30)
    try:
        wait_for(lambda: len(receiver.received) == 1, what="the first worker's delivery")
        first.send_signal(signal.SIGKILL)  # sent, not recorded
        first.wait(10)
    finally:
        first.kill()
    receiver.hold.set()
    receiver.hold = None
    (delivery,) = webhook_rows(rt)
    assert delivery.state == "pending" and delivery.attempts == 1
    with rt.engine.connect() as conn:
        assert not list(conn.execute(select(delivery_attempts).where(delivery_attempts.c.delivery_id == delivery.id)))
    second = start_worker(instance, database_url, tmp_path, "second", DELIVERY_LEASE_SECONDS=2)
    try:
        wait_for(lambda: webhook_rows(rt)[0].state == "delivered", what="the second worker's delivery")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0  # stops cleanly on SIGTERM
    # Sent twice under one id: the receiver keeps it once.
    ids = [got.headers["webhook-id"] for got in receiver.received]
    assert ids == [delivery.id, delivery.id] and len(set(ids)) == 1
    with rt.engine.connect() as conn:
        attempts = list(conn.execute(select(delivery_attempts).where(delivery_attempts.c.delivery_id == delivery.id)))
    assert [(a.number, a.succeeded) for a in attempts] == [(2, True)]


def test_two_workers_never_send_the_same_delivery(app, rt, cli, receiver, instance, database_url, tmp_path,
                                                  employer_advisor) -> None:
    assert cli("webhooks", "add", receiver.url).exit_code == 0
    receiver.delay = 0.02
    desk = alert_desk(app)
    count = 60
    for n in range(count):
        desk.send_alert("alerts", Alert(employer_advisor.id, "employer_search", f"load:{n}", "Titre", "Title", "Texte", "Text"))
    workers = [start_worker(instance, database_url, tmp_path, f"w{i}", DELIVERY_BATCH=5) for i in range(2)]
    try:
        wait_for(lambda: all(row.state == "delivered" for row in webhook_rows(rt)), timeout=60, what="every delivery")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(20)
    received = Counter(got.headers["webhook-id"] for got in receiver.received)
    assert len(received) == count and set(received.values()) == {1}
    # Each worker sends one delivery at a time: never more than two requests open at once.
    moments = sorted([(got.started, 1) for got in receiver.received] + [(got.ended, -1) for got in receiver.received])
    open_now = peak = 0
    for _, change in moments:
        open_now += change
        peak = max(peak, open_now)
    assert peak <= 2
    with rt.engine.connect() as conn:
        webhook_ids = [row.id for row in webhook_rows(rt)]
        assert len(list(conn.execute(select(delivery_attempts).where(delivery_attempts.c.delivery_id.in_(webhook_ids))))) == count
    logs = "".join((tmp_path / f"w{i}.log").read_text() for i in range(2))
    assert "Traceback" not in logs, logs

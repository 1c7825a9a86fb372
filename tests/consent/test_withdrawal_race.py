"""Withdrawal takes effect at commit: no read that starts after it commits is allowed.

Advisor reads run in several threads, each its own transaction, while the seeker withdraws; every
read records when it started and whether it was allowed. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
import time

from consent import service
from core.errors import AccessRefused
from core.dossier.service import list_activities, record_activity
from core.identity.roles import Actor, Role
from core.models import utcnow

ROUNDS = 5
READERS = 3


def test_no_read_is_allowed_after_the_withdrawal_commits(rt, gateway, seeker, advisor) -> None:
    as_seeker = Actor(seeker.id, Role.SEEKER, subject_id=seeker.subject_id)
    as_advisor = Actor(advisor.id, Role.ADVISOR)
    record_activity(rt, gateway, as_seeker, seeker.subject_id, {"kind": "interview", "occurred_at": utcnow(), "description": "Entretien"})
    late_allowed: list[float] = []
    total = {"allowed": 0, "refused": 0}
    for _ in range(ROUNDS):
        service.grant(rt, gateway, as_seeker, seeker.subject_id, "activity.advisor_access", 1)
        committed_at = [float("inf")]
        stop = threading.Event()
        reads: list[tuple[float, bool]] = []
        lock = threading.Lock()

        def reader(stop: threading.Event = stop, lock: threading.Lock = lock, reads: list[tuple[float, bool]] = reads) -> None:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    list_activities(rt, as_advisor, seeker.subject_id)
                    allowed = True
                except AccessRefused:
                    allowed = False
                with lock:
                    reads.append((started, allowed))

        threads = [threading.Thread(target=reader) for _ in range(READERS)]
        for thread in threads:
            thread.start()
        time.sleep(0.05)
        service.withdraw(rt, gateway, as_seeker, seeker.subject_id, "activity.advisor_access")
        committed_at[0] = time.perf_counter()
        time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join()
        late_allowed += [started for started, allowed in reads if allowed and started > committed_at[0]]
        total["allowed"] += sum(1 for _, allowed in reads if allowed)
        total["refused"] += sum(1 for started, allowed in reads if not allowed and started > committed_at[0])
    assert late_allowed == []
    # The race was real: reads were allowed before each withdrawal and refused after it.
    assert total["allowed"] > 0 and total["refused"] > 0

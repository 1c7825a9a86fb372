"""Fixtures of the alert and delivery tests: the app with e-mail going to a real SMTP server, a
real webhook receiver, an employer with its advisor, and published seekers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.identity import accounts
from core.identity.roles import Role
from tests.alerts.receivers import Receiver, SmtpServer
from tests.matching.test_search import publish


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    endpoint.start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def app_config(smtp: SmtpServer) -> dict[str, Any]:
    # Events reach the plugins in the request; deliveries wait for a worker's pass (the tests run it).
    return {**smtp.settings(), "PLUGIN_DISPATCH_INTERVAL": 0, "DELIVERY_INTERVAL": 1.0,
            "DELIVERY_RETRY_SCHEDULE": ["0", "0", "0"], "WEBHOOK_TIMEOUT": 5.0}


@pytest.fixture
def employer(make_person: Any) -> Any:
    return make_person(Role.EMPLOYER)


@pytest.fixture
def employer_advisor(make_person: Any, rt: Any, employer: Any) -> Any:
    """The advisor assigned to ``employer``, with a work e-mail address."""
    person = make_person(Role.ADVISOR, username="conseillere.employeurs")
    accounts.assign_employer(rt, person.username, employer.employer_id)
    from core.delivery.service import set_preferences

    set_preferences(rt, person.id, {"email": "conseillere.employeurs@forem.example"})
    return person


@pytest.fixture
def published(client: Any, make_person: Any) -> list[Any]:
    people = [make_person(Role.SEEKER) for _ in range(2)]
    for person in people:
        publish(client, person)
    return people

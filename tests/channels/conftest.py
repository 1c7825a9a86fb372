"""Fixtures of the channel integrations' tests: the built-in callcentre and jobboard plugins, their
clients as partners' systems are (a token and a webhook secret), and a seeker they can name."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from core.identity.roles import Role
from core.models import Base
from core.runtime import Runtime
from tests.conftest import Person
from tests.plugins.helpers import ChannelClient, base

CALLS = "/api/v1/channels/callcentre/calls"
RESPONSES = "/api/v1/channels/jobboard/responses"
EMAIL = "ana.silva@example.org"
NATIONAL_ID = "85.07.30-033.28"


@pytest.fixture
def app_config() -> dict[str, Any]:
    # A handler reads the blind index in its isolated call: give it the time a slow machine needs.
    return {"PLUGIN_TIMEOUT": 5.0, "PLUGIN_DISPATCH_INTERVAL": 0}


@pytest.fixture
def seeker(client: Any, make_person: Any) -> Person:
    person = make_person(Role.SEEKER)
    identity = {"name": "Ana Silva", "email": EMAIL, "phone": None, "national_id": NATIONAL_ID, "birth_date": None,
                "address": None}
    assert client.put(base(person) + "/identity", json=identity, headers=person.auth).status_code == 200
    return person


@pytest.fixture
def callcentre(client: Any, rt: Runtime) -> ChannelClient:
    return ChannelClient(client, rt, "centre-appels", ["channel:callcentre"])


@pytest.fixture
def jobboard(client: Any, rt: Runtime) -> ChannelClient:
    return ChannelClient(client, rt, "site-offres", ["channel:jobboard"])


def database_rows(rt: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: what "nothing was written" is compared on."""
    with rt.engine.connect() as conn:
        return {table.name: sorted(map(tuple, conn.execute(select(table)).all()), key=repr)
                for table in Base.metadata.sorted_tables}


def contacts(client: Any, seeker: Person) -> list[dict[str, Any]]:
    return list(client.get(base(seeker) + "/dossier", headers=seeker.auth).get_json()["contacts"])


def activities(client: Any, seeker: Person) -> list[dict[str, Any]]:
    return list(client.get(base(seeker) + "/activities", headers=seeker.auth).get_json())

"""The plugin register and purges answer what the OpenAPI document says, with plugins running:
a running plugin with its manifest and health, a blocked one, confirmed and pending purges."""

from __future__ import annotations

from typing import Any

import pytest

from core.identity.roles import Role
from plugins.api import StoredData
from tests.acceptance.test_contract import Contract
from tests.plugins.conftest import INSIGHT, make_plugin
from tests.plugins.helpers import base, grant, trigger

EVENT = "dossier_contact_recorded"


@pytest.fixture
def plugins() -> list[Any]:
    def refuse(plugin: Any, pseudonym: str, purpose: str, context: Any) -> None:
        raise RuntimeError("not now")  # leaves its purge pending

    return [make_plugin(events=(EVENT,), stores=(StoredData("digest", "contacts by month"),)),
            make_plugin("unsure", purposes=("unsure.insight",), events=(EVENT,), purge=True,
                        extra={"dossier_consent_withdrawn": refuse}),
            make_plugin("blocked_one", purposes=(), categories=(), purge=False)]


@pytest.fixture
def plugin_settings() -> dict[str, Any]:
    return {"PLUGINS_BLOCKED": ("blocked_one",)}


def test_the_register_and_the_purges_validate_against_the_document(app, client, rt, seeker, advisor, make_person) -> None:
    contract = Contract(app, client)
    for purpose in (INSIGHT, "unsure.insight"):
        grant(client, seeker, purpose)
    trigger(EVENT, client, rt, seeker, advisor)
    for purpose in (INSIGHT, "unsure.insight"):
        contract("DELETE", base(seeker) + f"/consents/{purpose}", 200, headers=seeker.auth)
    auditor = make_person(Role.AUDITOR)
    register = contract("GET", "/api/v1/plugins", 200, headers=auditor.auth).get_json()
    assert [(e["name"], e["state"]) for e in register] == [("recorder", "enabled"), ("unsure", "enabled"),
                                                           ("blocked_one", "blocked")]
    assert set(register[2]) == {"name", "state", "source"}
    purges = contract("GET", "/api/v1/plugins/purges", 200, headers=auditor.auth).get_json()
    assert sorted((p["plugin"], p["state"]) for p in purges) == [("recorder", "confirmed"), ("unsure", "pending")]
    pending = contract("GET", "/api/v1/plugins/purges?pending=true", 200, headers=auditor.auth).get_json()
    assert [p["plugin"] for p in pending] == ["unsure"] and pending[0]["last_error"] == "RuntimeError"

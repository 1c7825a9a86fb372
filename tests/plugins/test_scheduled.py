"""The plugins' periodic work (`dossier_scheduled`): called by the background work under no
purpose, at most once per PLUGIN_SCHEDULE_INTERVAL in a process, isolated like every call."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from core.plugins.models import plugin_incidents
from core.plugins.worker import run_scheduled, work
from plugins.api import StoredData
from tests.plugins.conftest import make_plugin


@pytest.fixture
def ticks() -> list[Any]:
    return []


@pytest.fixture
def plugins(ticks: list[Any]) -> list[Any]:
    def scheduled(plugin: Any, context: Any) -> None:
        ticks.append(context.purpose)
        count = context.shared.get("ticks", "count") or 0
        context.shared.put("ticks", "count", count + 1)
        with pytest.raises(ValueError, match="no purpose"):
            context.store.get("anyone", "ticks")

    def failing(plugin: Any, context: Any) -> None:
        raise RuntimeError("the periodic work of this plugin fails")

    return [
        make_plugin("ticker", purposes=(), categories=(), purge=False, stores=(StoredData("ticks", "a counter", per_subject=False),),
                    extra={"dossier_scheduled": scheduled}),
        make_plugin("broken", purposes=(), categories=(), purge=False, extra={"dossier_scheduled": failing}),
    ]


@pytest.fixture
def plugin_settings() -> dict[str, Any]:
    return {"PLUGIN_SCHEDULE_INTERVAL": 1.0}


def test_the_periodic_work_runs_under_no_purpose_once_per_interval(rt, gateway, ticks) -> None:
    assert work(rt, gateway)["scheduled_plugins_run"] == 2
    assert ticks == [None]
    assert work(rt, gateway)["scheduled_plugins_run"] == 0  # not again within the interval
    time.sleep(1.05)
    assert run_scheduled(rt, gateway) == 2 and ticks == [None, None]
    assert run_scheduled(rt, gateway, force=True) == 2 and len(ticks) == 3
    context = gateway.open_context("ticker", None)
    try:
        assert context.shared.get("ticks", "count") == 3
    finally:
        context.end()


def test_a_failing_periodic_work_is_an_incident_and_stops_nothing(rt, gateway, ticks) -> None:
    run_scheduled(rt, gateway, force=True)
    assert ticks == [None]  # the other plugin ran
    with rt.engine.connect() as conn:
        incidents = list(conn.execute(select(plugin_incidents.c.plugin, plugin_incidents.c.hook)))
    assert incidents == [("broken", "dossier_scheduled")]

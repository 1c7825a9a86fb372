"""The real service, with the example plugin registered, for the plugin's tests.

The fixtures mirror the service's own (tests/plugins/conftest.py in the service's repository), in
the few lines a plugin needs: an instance made by `dossier init` (once, then copied for each
test), ``create_app(test_config, plugins=[plugin])``, accounts and tokens made with the `dossier`
command line, and events delivered inline (``PLUGIN_DISPATCH_INTERVAL = 0``) so that a test sees
the plugin's work as soon as the request that caused it has answered.

The tests may use the service's internals to look (its CLI, its runtime); the plugin may not.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# The example's folder on the import path: its tests run without installing it.
EXAMPLE = Path(__file__).resolve().parents[1]
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))

from click.testing import CliRunner  # noqa: E402
from flask import Flask  # noqa: E402
from flask.cli import ScriptInfo  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from core.app import create_app  # noqa: E402
from core.cli import cli  # noqa: E402
from core.plugins.gateway import plugin_gateway  # noqa: E402
from core.runtime import Runtime, runtime  # noqa: E402

from dossier_activity_digest import plugin as activity_digest  # noqa: E402


def settings_for(instance: Path) -> dict[str, Any]:
    """Test settings: they win over the environment and instance/dossier.toml."""
    return {
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'dossier.sqlite3'}",
        "TESTING": True,
        "KEYRING_RELOAD_INTERVAL": 0.0,
        "PLUGIN_DISPATCH_INTERVAL": 0,
        "PLUGIN_TIMEOUT": 3.0,
        # The plugin is given to create_app: an installed copy must not be loaded a second time.
        "PLUGINS_ENABLED": [],
    }


@pytest.fixture(scope="session")
def instance_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An instance as `dossier init` leaves it: keys, migrated database, catalogue, taxonomy."""
    instance = tmp_path_factory.mktemp("template") / "instance"
    env = {"DOSSIER_INSTANCE_PATH": str(instance), "DOSSIER_DATABASE_URL": settings_for(instance)["DATABASE_URL"]}
    result = CliRunner().invoke(cli, ["init"], env=env)
    assert result.exit_code == 0, result.output
    return instance


@pytest.fixture
def instance(instance_template: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "instance"
    shutil.copytree(instance_template, folder)
    return folder


@pytest.fixture
def app(instance: Path) -> Iterator[Flask]:
    """The service, with the example plugin beside the built-in ones."""
    app = create_app(settings_for(instance), plugins=[activity_digest])
    yield app
    runtime(app).engine.dispose()


@pytest.fixture
def rt(app: Flask) -> Runtime:
    return runtime(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def dossier(app: Flask) -> Callable[..., list[Any]]:
    """Run a `dossier` command against the test app; return its output, one JSON value a line."""
    runner = CliRunner()

    def run(*args: str) -> list[Any]:
        result = runner.invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))
        assert result.exit_code == 0, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        return [json.loads(line) if line[:1] in "[{" else line for line in lines]

    return run


@dataclass
class Person:
    username: str
    subject_id: str | None
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def base(self) -> str:
        return f"/api/v1/seekers/{self.subject_id}"


@pytest.fixture
def make_person(dossier: Callable[..., list[Any]]) -> Callable[[str, str], Person]:
    """An account of a role, created and given a token the way an operator does."""

    def make(username: str, role: str) -> Person:
        (account,) = dossier("users", "add", username, "--role", role)
        (token,) = dossier("token", username)
        return Person(username, account.get("subject_id"), token)

    return make


@pytest.fixture
def seeker(make_person: Callable[[str, str], Person]) -> Person:
    return make_person("marie", "seeker")


@pytest.fixture
def admin(make_person: Callable[[str, str], Person]) -> Person:
    return make_person("admin", "admin")


@dataclass(frozen=True)
class HookCall:
    hook: str
    purpose: str | None


@pytest.fixture
def hook_calls(app: Flask) -> Iterator[list[HookCall]]:
    """Every call the service makes to the plugin's hooks (pluggy's call monitoring), in order."""
    calls: list[HookCall] = []

    def before(hook_name: str, implementations: Any, kwargs: dict[str, Any]) -> None:
        context = kwargs.get("context")
        calls.append(HookCall(hook_name, getattr(context, "purpose", None)))

    def after(outcome: Any, hook_name: str, implementations: Any, kwargs: dict[str, Any]) -> None:
        pass

    undo = plugin_gateway(app).manager.add_hookcall_monitoring(before, after)
    yield calls
    undo()


@pytest.fixture
def digest_of(app: Flask) -> Callable[[Person], Any]:
    """What the plugin keeps about a seeker, read from its store as the service reads it (or None)."""

    def read(person: Person) -> Any:
        assert person.subject_id is not None
        gateway = plugin_gateway(app)
        context = gateway.open_context(activity_digest.NAME, activity_digest.PURPOSE)
        try:
            return context.store.get(gateway.pseudonym(activity_digest.NAME, person.subject_id), activity_digest.STORE)
        finally:
            context.end()

    return read

"""Shared fixtures: a migrated database per test, on SQLite or on the PostgreSQL of the run.

``TEST_POSTGRESQL_URL`` (a PostgreSQL server URL) switches the whole suite to PostgreSQL:
a fresh database is created for the run and emptied between tests. Without it, every test gets
its own SQLite file, copied from one migrated template.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from core.db import make_engine, migrate
import audit.models  # noqa: F401 - every table is on the metadata
import consent.models  # noqa: F401
import core.delivery.models  # noqa: F401
from core.models import Base

POSTGRES_URL = os.environ.get("TEST_POSTGRESQL_URL", "")


def pytest_report_header() -> str:
    if POSTGRES_URL:
        return f"database: PostgreSQL at {make_url(POSTGRES_URL).render_as_string(hide_password=True)} (fresh database per run)"
    return "database: SQLite (set TEST_POSTGRESQL_URL=postgresql+psycopg://... to run the suite on PostgreSQL)"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database for this run (dropped at the end), or None on SQLite runs."""
    if not POSTGRES_URL:
        yield None
        return
    server = make_url(POSTGRES_URL)
    name = f"dossier_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file that each test copies (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "dossier.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def database_url(postgres_database: str | None, sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty, migrated database for one test."""
    if postgres_database is None:
        instance = tmp_path / "instance"
        instance.mkdir(exist_ok=True)
        path = instance / "dossier.sqlite3"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    yield postgres_database
    engine = make_engine(postgres_database)
    with engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name != "audit_tree")
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("UPDATE audit_tree SET size = 0"))
    engine.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test's empty, migrated database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


# -- the application ----------------------------------------------------------------------------

from dataclasses import dataclass  # noqa: E402

from click.testing import CliRunner  # noqa: E402
from flask import Flask  # noqa: E402
from flask.cli import ScriptInfo  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from core.app import create_app  # noqa: E402
from core.crypto.keyring import LocalKeyring  # noqa: E402
from core.identity import accounts  # noqa: E402
from core.identity.roles import Role  # noqa: E402
from core.identity.signing import SigningKeys  # noqa: E402
from core.plugins.gateway import PluginGateway, plugin_gateway  # noqa: E402
from core.runtime import Runtime, instance_files, runtime  # noqa: E402
from consent.store import load_catalogue  # noqa: E402
from core.taxonomy.service import load_default  # noqa: E402


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    """An instance folder with a keyring and signing keys, as `dossier init` makes them."""
    folder = tmp_path / "instance"
    folder.mkdir(exist_ok=True)
    keyring, signing = instance_files(folder)
    LocalKeyring.create_if_missing(keyring)
    SigningKeys.create_missing(signing)
    return folder


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Settings a test module adds to the app's (override this fixture there)."""
    return {}


@pytest.fixture
def app(instance: Path, database_url: str, app_config: dict[str, Any]) -> Iterator[Flask]:
    """The app on a migrated database holding the default taxonomy."""
    app = create_app({
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": database_url,
        "TESTING": True,
        "KEYRING_RELOAD_INTERVAL": 0.0,
        **app_config,
    })
    with runtime(app).engine.begin() as conn:
        load_default(conn)
        load_catalogue(conn)
    yield app
    runtime(app).engine.dispose()


@pytest.fixture
def rt(app: Flask) -> Runtime:
    return runtime(app)


@pytest.fixture
def gateway(app: Flask) -> PluginGateway:
    """The app's plugin gateway."""
    return plugin_gateway(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def cli(app: Flask):  # type: ignore[no-untyped-def]
    """Invoke the `dossier` command line against the test app."""
    from core.cli import cli as dossier_cli

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(dossier_cli, list(args), obj=ScriptInfo(create_app=lambda: app), input=input)

    return invoke


@dataclass
class Person:
    """A test account and a ready bearer header."""

    id: str
    username: str
    role: Role
    token: str
    subject_id: str | None = None
    employer_id: str | None = None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_person(rt: Runtime):  # type: ignore[no-untyped-def]
    """Create an account of a role and a token for it."""
    counter = iter(range(1_000_000))

    def make(role: Role, employer_id: str | None = None, username: str | None = None) -> Person:
        name = username or f"{role.value}{next(counter)}"
        if role is Role.EMPLOYER and employer_id is None:
            employer_id = accounts.create_employer(rt, f"Employer of {name}")["id"]
        info = accounts.create_account(rt, name, role, None, employer_id)
        token = rt.tokens.issue(info.id, role.value, subject_id=info.subject_id, employer_id=info.employer_id)
        return Person(info.id, name, role, token, info.subject_id, info.employer_id)

    return make


@pytest.fixture
def seeker(make_person) -> Person:  # type: ignore[no-untyped-def]
    return make_person(Role.SEEKER)


@pytest.fixture
def advisor(make_person, rt: Runtime, seeker: Person) -> Person:  # type: ignore[no-untyped-def]
    """An advisor with `seeker` in their caseload."""
    person = make_person(Role.ADVISOR)
    accounts.assign_seeker(rt, person.username, seeker.username)
    return person

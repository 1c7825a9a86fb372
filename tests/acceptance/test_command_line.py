"""The command line is the project's own: its version, its help without Flask's options, where `serve`
listens, and an `init` that checks the database before it creates anything.

Each behaviour is tried through click (CliRunner on the group) and, where it is about the installed
program, through the `dossier` script next to this Python.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.cli import ScriptInfo

import core.cli
from core.cli import AppLoader, cli as dossier_cli
from tests.acceptance.test_server import wait_until_serving

DOSSIER = Path(sys.executable).with_name("dossier")
needs_script = pytest.mark.skipif(not DOSSIER.exists(), reason=f"the dossier script is not installed at {DOSSIER}")

UNREACHABLE = "postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:1/x"
MISSING = "postgresql+psycopg://postgres@127.0.0.1:5432/dossier_missing_db_xyz"
UNKNOWN_ROLE = "postgresql+psycopg://nobody_xyz@127.0.0.1:5432/postgres"
FLASK_OPTIONS = ("--app", "--env-file", "--debug", "-e", "-A")


@pytest.fixture
def postgresql_server() -> None:
    """Skip unless a PostgreSQL server answers on 127.0.0.1:5432."""
    if shutil.which("pg_isready") is None:
        pytest.skip("pg_isready is not installed: cannot tell whether PostgreSQL runs on 127.0.0.1:5432")
    ready = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432"], capture_output=True, timeout=30)
    if ready.returncode != 0:
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432 (`pg_isready -h 127.0.0.1 -p 5432` failed)")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DOSSIER_* or FLASK_* variable of the outer environment leaks into the command."""
    for name in list(os.environ):
        if name.startswith(("DOSSIER_", "FLASK_")):
            monkeypatch.delenv(name)


def script_env(instance: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOSSIER_", "FLASK_"))}
    env["DOSSIER_INSTANCE_PATH"] = str(instance)
    if database_url is not None:
        env["DOSSIER_DATABASE_URL"] = database_url
    return {**env, **extra}


def run_script(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DOSSIER), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def command_names(help_text: str) -> set[str]:
    lines = help_text.split("Commands:", 1)[1].splitlines()
    return {line.split()[0] for line in lines if line.startswith("  ") and line.split()}


def assert_own_help(help_text: str) -> None:
    options = help_text.split("Options:", 1)[1].split("Commands:", 1)[0]
    for option in FLASK_OPTIONS:
        assert f" {option} " not in f" {options.replace(',', ' ')} ", f"{option} is offered:\n{help_text}"
    assert "--version" in options
    names = command_names(help_text)
    assert {"init", "serve", "demo", "users", "audit"} <= names
    assert not names & {"routes", "shell", "run"}, names


# -- --version and --help ------------------------------------------------------------------------


def test_version_is_the_distributions(clean_env: None) -> None:
    result = CliRunner().invoke(dossier_cli, ["--version"])
    assert result.exit_code == 0 and result.output == f"dossier {metadata.version('dossier')}\n"


def test_version_when_not_installed(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core.cli, "DISTRIBUTION", "dossier-not-installed-xyz")
    result = CliRunner().invoke(dossier_cli, ["--version"])
    assert result.exit_code == 0 and result.output == "dossier 0+unknown\n"


def test_help_lists_our_options_and_commands_only(clean_env: None) -> None:
    result = CliRunner().invoke(dossier_cli, ["--help"])
    assert result.exit_code == 0
    assert_own_help(result.output)


@pytest.mark.parametrize("option", [["--app", "wsgi:app"], ["-A", "wsgi:app"], ["--env-file", ".env"], ["-e", ".env"], ["--debug"]])
def test_flasks_options_are_refused(clean_env: None, option: list[str]) -> None:
    result = CliRunner().invoke(dossier_cli, [*option, "purposes", "list"])
    assert result.exit_code == 2 and "No such option" in result.output


@pytest.mark.parametrize("command", ["routes", "shell", "run"])
def test_flasks_commands_are_not_there(clean_env: None, command: str) -> None:
    result = CliRunner().invoke(dossier_cli, [command])
    assert result.exit_code == 2 and "No such command" in result.output


@needs_script
def test_installed_script_version_and_help_need_no_instance(tmp_path: Path) -> None:
    # A bad setting and no instance: --version and --help do not build the app, so neither matters.
    env = script_env(tmp_path / "no-instance", DOSSIER_TOKEN_TTL="nonsense")
    version = run_script("--version", env=env, cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    assert version.stdout == f"dossier {metadata.version('dossier')}\n" and version.stderr == ""
    help_ = run_script("--help", env=env, cwd=tmp_path)
    assert help_.returncode == 0, help_.stderr
    assert_own_help(help_.stdout)
    assert not (tmp_path / "no-instance").exists()


# -- one-off commands build the app lazily ---------------------------------------------------------


def test_one_off_commands_build_the_app_without_a_process_start(clean_env: None, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    instance = tmp_path / "instance"
    monkeypatch.setenv("DOSSIER_INSTANCE_PATH", str(instance))
    runner = CliRunner()
    assert runner.invoke(dossier_cli, ["init"]).exit_code == 0
    import core.app

    calls: list[dict[str, Any]] = []
    real = core.app.create_app

    def recording(*args: Any, **kwargs: Any) -> Flask:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(core.app, "create_app", recording)
    result = runner.invoke(dossier_cli, ["purposes", "list"])
    assert result.exit_code == 0, result.output
    assert any('"dossier.public_task"' in line for line in result.stdout.splitlines())
    assert calls == [{"start": False}]
    assert runner.invoke(dossier_cli, ["--help"]).exit_code == 0 and len(calls) == 1


def test_a_one_off_command_on_a_bad_configuration_prints_one_line(clean_env: None, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    instance = tmp_path / "never-initialised"
    monkeypatch.setenv("DOSSIER_INSTANCE_PATH", str(instance))
    result = CliRunner().invoke(dossier_cli, ["purposes", "list"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("configuration error: no keyring at ") and result.stderr.count("\n") == 1
    assert str(instance.resolve()) in result.stderr and "DOSSIER_INSTANCE_PATH" in result.stderr
    monkeypatch.setenv("DOSSIER_TOKEN_TTL", "nonsense")
    result = CliRunner().invoke(dossier_cli, ["purposes", "list"])
    assert result.exit_code == 2 and result.stderr == "configuration error: DOSSIER_TOKEN_TTL: expected int, got 'nonsense'\n"


def test_tests_inject_an_app_with_our_loader_or_flasks_script_info(app: Flask) -> None:
    for obj in (AppLoader(lambda: app), ScriptInfo(create_app=lambda: app)):
        result = CliRunner().invoke(dossier_cli, ["purposes", "list"], obj=obj)
        assert result.exit_code == 0, result.output
        assert '"dossier.public_task"' in result.stdout


# -- serve -----------------------------------------------------------------------------------------


@pytest.fixture
def gunicorn_runs(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Stop gunicorn at the moment it would start, recording its configuration."""
    from core.server import DossierServer

    started: dict[str, Any] = {}

    def run(self: Any) -> None:
        started.update(bind=list(self.cfg.bind), workers=self.cfg.workers, environ=dict(self._environ))
        raise SystemExit(0)

    monkeypatch.setattr(DossierServer, "run", run)
    return started


def test_serve_says_where_it_listens_before_gunicorn_starts(cli, gunicorn_runs: dict[str, Any], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # the worker count does not depend on the cores
    result = cli("serve")
    # Gunicorn stopped as it started: what was printed was printed before it.
    assert result.exit_code == 0, result.output
    assert result.stdout == "dossier: listening on http://127.0.0.1:8000 (2 workers)\n"
    assert gunicorn_runs["bind"] == ["127.0.0.1:8000"] and gunicorn_runs["workers"] == 2
    gunicorn_runs.clear()
    result = cli("serve", "--host", "::1", "--port", "9001", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout == "dossier: listening on http://[::1]:9001 (1 worker)\n"
    assert gunicorn_runs["bind"] == ["[::1]:9001"] and gunicorn_runs["workers"] == 1


def test_serve_takes_its_defaults_from_the_settings(instance: Path, database_url: str, gunicorn_runs: dict[str, Any]) -> None:
    from core.app import create_app
    from core.runtime import runtime

    app = create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": database_url, "TESTING": True,
                      "SERVE_HOST": "0.0.0.0", "SERVE_PORT": 8123, "SERVE_WORKERS": 3}, start=False)
    try:
        result = CliRunner().invoke(dossier_cli, ["serve"], obj=AppLoader(lambda: app))
    finally:
        runtime(app).engine.dispose()
    assert result.exit_code == 0, result.output
    assert result.stdout == "dossier: listening on http://0.0.0.0:8123 (3 workers)\n"
    assert gunicorn_runs["workers"] == 3 and gunicorn_runs["environ"]["DOSSIER_INSTANCE_PATH"] == str(instance.resolve())


def test_serve_help_states_the_real_defaults(clean_env: None) -> None:
    result = CliRunner().invoke(dossier_cli, ["serve", "--help"])
    text = " ".join(result.output.split())
    assert result.exit_code == 0
    assert "(default: the SERVE_WORKERS setting, 2)" in text and "cores" not in text
    assert "(default: the SERVE_HOST setting, 127.0.0.1)" in text and "(default: the SERVE_PORT setting, 8000)" in text
    assert CliRunner().invoke(dossier_cli, ["serve", "--workers", "0"]).exit_code == 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@needs_script
def test_installed_serve_prints_the_address_it_then_serves_on(tmp_path: Path) -> None:
    env = script_env(tmp_path / "served")
    init = run_script("init", env=env, cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    port = free_port()
    with subprocess.Popen([str(DOSSIER), "serve", "--port", str(port), "--workers", "1"], env=env, cwd=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as server:
        try:
            assert server.stdout is not None
            ready, _, _ = select.select([server.stdout], [], [], 30)
            assert ready, "serve printed nothing"
            line = server.stdout.readline()
            assert line == f"dossier: listening on http://127.0.0.1:{port} (1 worker)\n"
            wait_until_serving(line.split(" on ", 1)[1].split(" ", 1)[0])
        finally:
            server.terminate()
            server.wait(20)


# -- init checks the database first ----------------------------------------------------------------


def assert_failed_before_creating_anything(result: Result | subprocess.CompletedProcess[str], instance: Path, message: str) -> None:
    code = result.exit_code if isinstance(result, Result) else result.returncode
    assert code == 2, (result.stdout, result.stderr)
    assert result.stderr == f"configuration error: {message}\n"
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert "s3cret-pw" not in result.stderr and "postgresql+psycopg://" not in result.stderr
    assert not instance.exists(), "init created the instance folder before checking the database"


def bad_databases(tmp_path: Path) -> dict[str, tuple[str, str]]:
    missing_folder = tmp_path / "nowhere" / "dossier.sqlite3"
    return {
        "unreachable": (UNREACHABLE, "cannot reach the database at 127.0.0.1:1 (Connection refused)"),
        "missing": (MISSING, "the database dossier_missing_db_xyz does not exist on 127.0.0.1:5432"),
        "unknown role": (UNKNOWN_ROLE,
                         'the database server at 127.0.0.1:5432 refused the user nobody_xyz (role "nobody_xyz" does not exist)'),
        "sqlite folder": (f"sqlite:///{missing_folder}", f"the folder of the SQLite database {missing_folder} does not exist: "
                                                         f"create {missing_folder.parent} or change DATABASE_URL"),
    }


NEEDS_SERVER = {"missing", "unknown role"}


@pytest.mark.parametrize("case", ["unreachable", "missing", "unknown role", "sqlite folder"])
def test_init_on_a_bad_database_says_which_and_creates_nothing(case: str, clean_env: None, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    if case in NEEDS_SERVER:
        request.getfixturevalue("postgresql_server")
    url, message = bad_databases(tmp_path)[case]
    instance = tmp_path / "instance"
    monkeypatch.setenv("DOSSIER_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("DOSSIER_DATABASE_URL", url)
    assert_failed_before_creating_anything(CliRunner().invoke(dossier_cli, ["init"]), instance, message)


@needs_script
@pytest.mark.parametrize("case", ["unreachable", "missing", "sqlite folder"])
def test_installed_init_on_a_bad_database_says_which_and_creates_nothing(case: str, tmp_path: Path,
                                                                          request: pytest.FixtureRequest) -> None:
    if case in NEEDS_SERVER:
        request.getfixturevalue("postgresql_server")
    url, message = bad_databases(tmp_path)[case]
    instance = tmp_path / "instance"
    result = run_script("init", env=script_env(instance, url), cwd=tmp_path)
    assert_failed_before_creating_anything(result, instance, message)
    assert not (tmp_path / "instance").exists() and list(tmp_path.iterdir()) == []


def test_init_where_the_instance_folder_cannot_be_made_creates_nothing(clean_env: None, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    instance = blocker / "instance"
    monkeypatch.setenv("DOSSIER_INSTANCE_PATH", str(instance))
    result = CliRunner().invoke(dossier_cli, ["init"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"configuration error: cannot create the instance folder {instance}")
    assert "DOSSIER_INSTANCE_PATH" in result.stderr and result.stderr.count("\n") == 1
    assert blocker.read_text() == "not a folder"


@needs_script
def test_installed_init_names_the_instance_folder_first(tmp_path: Path) -> None:
    instance = tmp_path / "relative-instance"
    result = run_script("init", env=script_env(Path("relative-instance")), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("instance: ") and str(instance.resolve()) in first and "DOSSIER_INSTANCE_PATH" in first
    assert (instance / "keyring.json").is_file() and (instance / "dossier.sqlite3").is_file()


def test_a_timeout_reads_as_unreachable_and_no_password_is_shown() -> None:
    import psycopg
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from core.bootstrap import postgresql_problem

    url = make_url("postgresql+psycopg://app:s3cret-pw@db.example:6543/dossier")
    timeout = OperationalError("connect", {}, psycopg.OperationalError("connection timeout expired (password s3cret-pw)"))
    assert postgresql_problem(url, timeout) == "cannot reach the database at db.example:6543 (connection timeout expired (password ***))"

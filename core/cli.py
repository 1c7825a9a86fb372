"""The ``dossier`` command line: a click group of our own (not Flask's), building the app lazily.

Only the commands that need the app build it (``with_app``), once, with ``create_app(start=False)``;
``--help``, ``--version``, ``init`` and ``serve`` do not go through it. Tests inject an app by giving
the group an object with a ``load_app()`` method as ``obj``: ``AppLoader(lambda: app)``, or Flask's
``ScriptInfo(create_app=lambda: app)``.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
import functools
import json
import os
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import click
from flask import Flask, has_app_context

from config.settings import ConfigError, Settings, load_settings
from core.errors import DossierError
from core.identity import accounts
from core.identity.roles import PERSON_ROLES, Role
from core.identity.signing import KeyUse
from core.plugins.gateway import plugin_gateway
from core.runtime import runtime

DISTRIBUTION = "dossier"


def _create_app() -> Flask:
    from core.app import create_app

    try:
        # A one-off command: the plugins are not told of a process start (core.app.create_app).
        return create_app(start=False)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


class AppSource(Protocol):
    """What the group's ``obj`` must be: something that gives the app (flask.cli.ScriptInfo is one)."""

    def load_app(self) -> Flask: ...


class AppLoader:
    """Builds the app on first use, once."""

    def __init__(self, create_app: Callable[[], Flask] = _create_app) -> None:
        self._create_app = create_app
        self._app: Flask | None = None

    def load_app(self) -> Flask:
        if self._app is None:
            self._app = self._create_app()
        return self._app


def _app_source(ctx: click.Context) -> AppSource:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = AppLoader()
    source: AppSource = root.obj
    return source


def with_app(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``command`` inside the app's context, building the app first if need be."""

    @click.pass_context
    def wrapper(ctx: click.Context, /, *args: Any, **kwargs: Any) -> Any:
        if not has_app_context():
            ctx.with_resource(_app_source(ctx).load_app().app_context())
        return ctx.invoke(command, *args, **kwargs)

    return functools.update_wrapper(wrapper, command)


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """User errors print one line and exit 1, with no traceback; configuration errors exit 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DossierError as exc:
            details = exc.extra.get("errors") or exc.extra.get("field") or ""
            raise click.ClickException(f"{exc.detail or exc.slug} {details}".strip()) from None
        except ConfigError as exc:
            click.echo(f"configuration error: {exc}", err=True)
            sys.exit(2)

    return wrapper


def _jsonable(value: Any) -> Any:
    # The services' typed records (dataclasses) print as the objects they stand for.
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _print(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=_jsonable))


def version() -> str:
    """The installed distribution's version; 0+unknown when running from a tree that is not installed."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"dossier {version()}")
        ctx.exit(0)


@click.group()
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Print the version and exit.")
def cli() -> None:
    """Dossier unique et consentements / single dossier and consent service."""


@cli.command("init")
@_friendly
def init_command() -> None:
    """Check the database, then create the instance folder, keys and schema; load the purpose catalogue and taxonomy (idempotent)."""
    from core.bootstrap import initialise

    for line in initialise(load_settings()):
        click.echo(line)


@cli.command("serve")
@click.option("--host", default=None, help=f"Address to bind (default: the SERVE_HOST setting, {Settings.SERVE_HOST}).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help=f"Port (default: the SERVE_PORT setting, {Settings.SERVE_PORT}).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help=f"Worker processes (default: the SERVE_WORKERS setting, {Settings.SERVE_WORKERS}).")
@click.pass_context
@_friendly
def serve_command(ctx: click.Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the API with gunicorn (a production WSGI server)."""
    from core.server import bind_address, serve

    # Fail fast, with one line, before forking workers; the settings are the app's.
    settings = runtime(_app_source(ctx).load_app()).settings
    host = settings.SERVE_HOST if host is None else host
    port = settings.SERVE_PORT if port is None else port
    workers = settings.SERVE_WORKERS if workers is None else workers
    environ = {"DOSSIER_INSTANCE_PATH": str(settings.instance_path.resolve())}
    if os.environ.get("DOSSIER_DATABASE_URL"):
        environ["DOSSIER_DATABASE_URL"] = os.environ["DOSSIER_DATABASE_URL"]
    click.echo(f"dossier: listening on http://{bind_address(host, port)} ({workers} worker{'' if workers == 1 else 's'})")
    serve(host, port, workers, environ)


@cli.command("demo")
@with_app
@_friendly
def demo_command() -> None:
    """Load demo accounts, employers, assignments and dossiers (idempotent)."""
    from core.demo import load_demo

    for line in load_demo(runtime(), plugin_gateway()):
        click.echo(line)


@cli.group("users")
def users() -> None:
    """Accounts."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in PERSON_ROLES]))
@click.option("--employer", "employer_id", default=None, help="Employer id, for --role employer.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--email", default=None, help="An advisor's work e-mail address: their alerts are sent there.")
@with_app
@_friendly
def users_add(username: str, role: str, employer_id: str | None, password_stdin: bool, email: str | None) -> None:
    """Create an account (for a seeker, also an empty dossier) and print it as JSON."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    _print(accounts.create_account(runtime(), username, Role(role), password, employer_id, email).as_dict())


@users.command("alerts")
@click.argument("username")
@click.option("--email", default=None, help="The advisor's work e-mail address ('' removes it).")
@click.option("--email-alerts/--no-email-alerts", default=None, help="Each alert also by e-mail, or not.")
@click.option("--digest", type=click.Choice(["none", "daily", "weekly"]), default=None, help="A digest by e-mail.")
@with_app
@_friendly
def users_alerts(username: str, email: str | None, email_alerts: bool | None, digest: str | None) -> None:
    """Show, or change, an advisor's alert address and preferences; prints them as JSON."""
    from core.delivery.service import set_preferences

    changes: dict[str, Any] = {}
    if email is not None:
        changes["email"] = email or None
    if email_alerts is not None:
        changes["email_alerts"] = email_alerts
    if digest is not None:
        changes["digest"] = digest
    info = accounts.account_by_username(runtime(), username)
    if info.role is not Role.ADVISOR:
        raise click.ClickException(f"{username} is not an advisor")
    _print(set_preferences(runtime(), info.id, changes))


@users.command("password")
@click.argument("username")
@with_app
@_friendly
def users_password(username: str) -> None:
    """Set an account's password, read from standard input."""
    accounts.set_password(runtime(), username, sys.stdin.readline().rstrip("\n"))
    click.echo("ok")


@cli.group("clients")
def clients_group() -> None:
    """Service clients (channel integrations): OAuth2 client credentials and scopes."""


@clients_group.command("add")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, required=True, help="A scope, e.g. channel:<plugin>; repeat for several.")
@with_app
@_friendly
def clients_add(name: str, scopes: tuple[str, ...]) -> None:
    """Register a service client and print it as JSON, with its secrets (shown this once): the
    client secret of the token endpoint, and the webhook secret that signs its messages."""
    from core.identity.clients import create_client

    _print(create_client(runtime(), name, list(scopes)))


@clients_group.command("list")
@with_app
@_friendly
def clients_list() -> None:
    """Print the service clients as JSON lines (never their secrets)."""
    from core.identity.clients import list_clients

    for client in list_clients(runtime()):
        _print(client)


@clients_group.command("disable")
@click.argument("name")
@with_app
@_friendly
def clients_disable(name: str) -> None:
    """Disable a service client: its tokens stop working at once."""
    from core.identity.clients import disable_client

    _print(disable_client(runtime(), name))


@clients_group.command("rotate-webhook-secret")
@click.argument("name")
@with_app
@_friendly
def clients_rotate_webhook_secret(name: str) -> None:
    """A new webhook secret for a client, printed once; the previous one still verifies for 24 hours."""
    from core.identity.clients import rotate_webhook_secret

    _print(rotate_webhook_secret(runtime(), name))


@cli.group("evidence")
def evidence_group() -> None:
    """Evidence documents (attestations of active job search)."""


@evidence_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_app
def evidence_verify(file: Path) -> None:
    """Check a document (PDF or HTML): exit 0 and print its period and entry count when this
    instance issued it unaltered; exit 1 otherwise."""
    from core.evidence.service import verify

    result = verify(runtime(), file.read_bytes())
    _print({k: v for k, v in dataclasses.asdict(result).items() if v is not None})
    if not result.authentic:
        sys.exit(1)


@cli.group("employers")
def employers() -> None:
    """Employers (organisations)."""


@employers.command("add")
@click.argument("name")
@with_app
@_friendly
def employers_add(name: str) -> None:
    """Create an employer and print it as JSON."""
    _print(accounts.create_employer(runtime(), name))


@cli.command("assign")
@click.option("--advisor", required=True, help="The advisor's username.")
@click.option("--seeker", default=None, help="A seeker's username.")
@click.option("--employer", "employer_id", default=None, help="An employer id.")
@with_app
@_friendly
def assign_command(advisor: str, seeker: str | None, employer_id: str | None) -> None:
    """Put a seeker or an employer in an advisor's caseload."""
    if (seeker is None) == (employer_id is None):
        raise click.UsageError("give exactly one of --seeker or --employer")
    if seeker is not None:
        _print(accounts.assign_seeker(runtime(), advisor, seeker))
    else:
        _print(accounts.assign_employer(runtime(), advisor, employer_id or ""))


@cli.command("token")
@click.argument("username")
@click.option("--ttl", type=click.IntRange(60, 30 * 86400), default=None, help="Lifetime in seconds.")
@with_app
@_friendly
def token_command(username: str, ttl: int | None) -> None:
    """Print a signed access token for an account (operator tool)."""
    info = accounts.account_by_username(runtime(), username)
    click.echo(runtime().tokens.issue(info.id, info.role.value, client_id="dossier-cli", ttl=ttl,
                                      subject_id=info.subject_id, employer_id=info.employer_id))


@cli.group("keys")
def keys() -> None:
    """Key management: key-encryption keys (rotate, retire) and signing keys (rotate-signing)."""


@keys.command("rotate")
@click.option("--retire", is_flag=True,
              help="Then destroy the key-encryption key versions no data key uses any more (docs/erasure.md).")
@with_app
@_friendly
def keys_rotate(retire: bool) -> None:
    """Add a key-encryption key version and rewrap every data key under it, while serving."""
    from core.crypto.rotation import retire_keys, rotate_keys

    rt = runtime()
    report = rotate_keys(rt.work, rt.sealer, rt.settings.KEYRING_RELOAD_INTERVAL)
    result: dict[str, Any] = {"kek_version": report.version, "rewrapped": report.rewrapped}
    if retire:
        # rotate_keys waited for running workers to notice the new version: nothing to wait for.
        result["retired"] = retire_keys(rt.work, rt.keys, settle=0)
    _print(result)


@keys.command("retire")
@with_app
@_friendly
def keys_retire() -> None:
    """Destroy the key-encryption key versions no data key is wrapped under any more (after a rotation)."""
    from core.crypto.rotation import retire_keys

    rt = runtime()
    _print({"retired": retire_keys(rt.work, rt.keys, settle=rt.settings.KEYRING_RELOAD_INTERVAL)})


@keys.command("rotate-signing")
@click.option("--use", required=True, type=click.Choice([use.value for use in KeyUse]), help="The key to replace.")
@with_app
@_friendly
def keys_rotate_signing(use: str) -> None:
    """Replace a signing key; the old one is retired: its private part destroyed, its public part still published."""
    rt = runtime()
    _print(rt.signing.rotate(KeyUse(use), rt.clock()))


@cli.group("taxonomy")
def taxonomy() -> None:
    """Occupation and skill codes."""


@taxonomy.command("import")
@click.argument("path", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--source", default=None, help="A taxonomy a plugin provides (see `dossier taxonomy sources`) instead of a folder.")
@with_app
@_friendly
def taxonomy_import(path: Path | None, source: str | None) -> None:
    """Import the official ESCO CSV download (occupations_xx.csv, skills_xx.csv, relations), or a plugin's taxonomy."""
    from core.taxonomy.esco import TaxonomyImportError, import_esco
    from core.taxonomy.sources import import_source

    if (path is None) == (source is None):
        raise click.UsageError("give exactly one of PATH or --source")
    try:
        if source is not None:
            sources = plugin_gateway().taxonomy_sources()
            if source not in sources:
                raise click.ClickException(f"no plugin provides a taxonomy named {source!r} (see `dossier taxonomy sources`)")
            plugin, found = sources[source]
            report = import_source(runtime(), plugin_gateway(), plugin, found)
        else:
            with runtime().transaction() as conn:
                report = import_esco(conn, path or Path("."))
    except TaxonomyImportError as exc:
        raise click.ClickException(str(exc)) from None
    _print({
        "occupations": report.occupations, "skills": report.skills, "relations": report.relations,
        "languages": list(report.languages), "skipped_relations": report.skipped_relations,
    })


@taxonomy.command("sources")
@with_app
@_friendly
def taxonomy_sources() -> None:
    """List the taxonomies that plugins provide, as JSON lines."""
    for name, (plugin, source) in sorted(plugin_gateway().taxonomy_sources().items()):
        _print({"name": name, "plugin": plugin, "description": source.description})


@cli.group("plugins")
def plugins_group() -> None:
    """Plugins: the register, purges, delivery."""


@plugins_group.command("list")
@with_app
@_friendly
def plugins_list() -> None:
    """Print each plugin's manifest, source and health as JSON lines (installed but off ones too)."""
    from core.plugins.schemas import PluginSchema
    from core.plugins.service import register_entries

    # As GET /api/v1/plugins answers it: dumped by the same schema.
    for entry in register_entries(runtime(), plugin_gateway()):
        _print(PluginSchema().dump(entry))


@plugins_group.command("purges")
@click.option("--pending", is_flag=True, help="Only the purges not yet confirmed.")
@with_app
@_friendly
def plugins_purges(pending: bool) -> None:
    """Print the purges asked of plugins as JSON lines, the unconfirmed first."""
    from core.plugins.schemas import PurgeSchema
    from core.plugins.service import purge_entries

    # As GET /api/v1/plugins/purges answers it: dumped by the same schema.
    for entry in purge_entries(runtime(), pending):
        _print(PurgeSchema().dump(entry))


@plugins_group.command("dispatch")
@with_app
@_friendly
def plugins_dispatch() -> None:
    """Deliver queued events and retry due purges now (the server does it in the background)."""
    from core.plugins.worker import work

    _print(work(runtime(), plugin_gateway()))


@cli.command("worker")
@click.option("--once", is_flag=True, help="One pass of every task, then exit (prints what it did).")
@click.option("--interval", type=click.FloatRange(0.05, 3600), default=1.0, show_default=True,
              help="Seconds between passes when there is nothing to do.")
@with_app
@_friendly
def worker_command(once: bool, interval: float) -> None:
    """Run the background work (plugin events, purges, deliveries, audit sequencing) until stopped;
    any number of workers may run against PostgreSQL."""
    from core.worker import run_worker

    run_worker(runtime(), plugin_gateway(), once=once, interval=interval, report=_print)


@cli.group("webhooks")
def webhooks_group() -> None:
    """Webhook endpoints that receive alerts, signed per the Standard Webhooks specification."""


@webhooks_group.command("add")
@click.argument("url")
@click.option("--hmac", "use_hmac", is_flag=True, help="Sign with HMAC-SHA256 (v1) and a secret of its own, not Ed25519 (v1a).")
@click.option("--description", default="", help="What the endpoint is, for admins.")
@with_app
@_friendly
def webhooks_add(url: str, use_hmac: bool, description: str) -> None:
    """Register an endpoint; prints {"id","url","secret"?} (the secret once, with --hmac)."""
    from core.delivery.service import add_endpoint

    try:
        endpoint, secret = add_endpoint(runtime(), url, use_hmac, description)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    _print({"id": endpoint.id, "url": endpoint.url, "signing": endpoint.signing} | ({"secret": secret} if secret else {}))


@webhooks_group.command("list")
@with_app
@_friendly
def webhooks_list() -> None:
    """Print every endpoint as JSON lines: enabled or disabled, and why."""
    from core.delivery.service import list_endpoints

    for endpoint in list_endpoints(runtime()):
        _print(endpoint)


@webhooks_group.command("disable")
@click.argument("endpoint_id")
@with_app
@_friendly
def webhooks_disable(endpoint_id: str) -> None:
    """Stop delivering to an endpoint (what waits for it fails)."""
    from core.delivery.service import set_endpoint_enabled

    _print(set_endpoint_enabled(runtime(), endpoint_id, False))


@webhooks_group.command("enable")
@click.argument("endpoint_id")
@with_app
@_friendly
def webhooks_enable(endpoint_id: str) -> None:
    """Deliver to an endpoint again (after a 410, a failure or an admin's disable)."""
    from core.delivery.service import set_endpoint_enabled

    _print(set_endpoint_enabled(runtime(), endpoint_id, True))


@webhooks_group.command("rotate-secret")
@click.argument("endpoint_id")
@with_app
@_friendly
def webhooks_rotate_secret(endpoint_id: str) -> None:
    """A new secret for an --hmac endpoint, printed once; the old one also signs for 24 hours."""
    from core.delivery.service import rotate_secret

    try:
        endpoint, secret = rotate_secret(runtime(), endpoint_id)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    _print({"id": endpoint.id, "url": endpoint.url, "secret": secret})


@cli.group("deliveries", invoke_without_command=True)
@click.option("--state", type=click.Choice(["pending", "delivered", "failed"]), default=None,
              help="Only deliveries in this state (default: pending and failed).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.pass_context
def deliveries_group(ctx: click.Context, state: str | None, limit: int) -> None:
    """What is pending, failed and disabled: counts, deliveries with their attempts, endpoints (JSON)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(_deliveries_overview, state=state, limit=limit)


@with_app
@_friendly
def _deliveries_overview(state: str | None, limit: int) -> None:
    from core.delivery.service import overview

    _print(overview(runtime(), state, limit))


@deliveries_group.command("retry")
@click.argument("delivery_id")
@with_app
@_friendly
def deliveries_retry(delivery_id: str) -> None:
    """Send a failed delivery again at the next pass of a worker."""
    from core.delivery.service import retry_delivery

    retry_delivery(runtime(), delivery_id)
    click.echo("ok")


@cli.group("purposes")
def purposes_group() -> None:
    """The purpose catalogue."""


@purposes_group.command("list")
@with_app
@_friendly
def purposes_list() -> None:
    """Print the catalogue as JSON lines."""
    from consent.service import list_purposes

    for entry in list_purposes(runtime()):
        _print(entry)


@purposes_group.command("notice")
@click.argument("purpose")
@click.option("--fr", "text_fr", required=True, help="The new notice text in French.")
@click.option("--en", "text_en", required=True, help="The new notice text in English.")
@click.option("--material", is_flag=True, help="A material change: consents given under older notices must be given again.")
@with_app
@_friendly
def purposes_notice(purpose: str, text_fr: str, text_en: str, material: bool) -> None:
    """Publish a new version of a purpose's notice."""
    from consent.service import publish_notice

    _print(publish_notice(runtime(), purpose, text_fr, text_en, material))


@cli.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("verify")
@with_app
@_friendly
def audit_verify() -> None:
    """Verify the whole log and every checkpoint; exit 0 when intact, 1 naming the first bad entry."""
    from audit.service import verify

    report = verify(runtime())
    if not report.ok:
        where = f" (first bad entry: leaf {report.first_bad_entry})" if report.first_bad_entry is not None else ""
        click.echo(f"FAILED: {report.problem}{where}", err=True)
        sys.exit(1)
    click.echo(f"OK: {report.tree_size} entries, {report.checkpoints} checkpoints verified")


@audit_group.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@with_app
@_friendly
def audit_export(path: Path) -> None:
    """Write the log and its checkpoints for the stand-alone verifier (python -m audit.verifier)."""
    from audit.service import export

    size = export(runtime(), path)
    click.echo(f"exported {size} entries to {path}")


@audit_group.command("cosign")
@click.argument("note_file", type=click.File("r", encoding="utf-8"))
@with_app
@_friendly
def audit_cosign(note_file: Any) -> None:
    """Record the cosignatures of configured witnesses (AUDIT_WITNESSES) on a checkpoint note a witness returned."""
    from audit.service import record_cosignatures

    cosigned = record_cosignatures(runtime(), note_file.read())
    _print({"tree_size": cosigned.tree_size, "witnesses": cosigned.witnesses})


@audit_group.command("sequence")
@with_app
@_friendly
def audit_sequence() -> None:
    """Integrate queued entries into the tree now (the server also does it every second)."""
    from audit.service import sequence

    click.echo(f"integrated {sequence(runtime())} entries")


def main() -> None:
    cli(prog_name="dossier")

"""``dossier init``: everything an instance needs, created only where missing.

The database and the instance folder are checked before anything is created: an init against a
database that cannot be reached, or that does not exist, stops with one line and leaves nothing
behind (no instance folder, no keyring, no signing keys).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from config.settings import ConfigError, Settings
from consent.store import load_catalogue
from core.crypto.keyring import LocalKeyring
from core.db import make_engine, migrate
from core.identity.signing import SigningKeys
from core.models import taxonomy_concepts
from core.runtime import instance_files, instance_hint
from core.taxonomy.service import load_default

# Seconds the check waits for a PostgreSQL server before saying it cannot be reached (libpq's minimum is 2).
CONNECT_TIMEOUT = 5
POSTGRESQL_PORT = 5432


def initialise(settings: Settings) -> Iterator[str]:
    """Create the instance folder, keys and schema, and the default taxonomy; say what was done.

    Raises ConfigError, with one line, before creating anything when the database or the instance
    folder is not usable.
    """
    check_database(settings)
    check_instance_folder(settings)
    instance = settings.instance_path
    instance.mkdir(parents=True, exist_ok=True)
    os.chmod(instance, 0o700)
    yield f"instance: {settings.instance_path.resolve()} (DOSSIER_INSTANCE_PATH; default ./instance)"
    keyring, signing = instance_files(instance)
    if LocalKeyring.create_if_missing(keyring):
        yield "keyring: created"
    else:
        added = LocalKeyring.add_missing_keys(keyring)
        yield f"keyring: present, added {', '.join(added)}" if added else "keyring: present"
    created = SigningKeys.create_missing(signing)
    yield f"signing keys: created {', '.join(created)}" if created else "signing keys: present"
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        yield "database: at the latest migration"
        with engine.begin() as conn:
            added = load_catalogue(conn)
            yield f"purposes: added {', '.join(added)}" if added else "purposes: present"
            if conn.execute(select(func.count()).select_from(taxonomy_concepts)).scalar_one() == 0:
                report = load_default(conn)
                yield f"taxonomy: loaded the default ({report.occupations} occupations, {report.skills} skills)"
            else:
                yield "taxonomy: present"
    finally:
        engine.dispose()


def check_database(settings: Settings) -> None:
    """Raise ConfigError, one line without credentials, when init could not use the database."""
    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        # SQLAlchemy's message quotes the whole URL, password included.
        raise ConfigError("DATABASE_URL: not a valid database URL") from None
    if url.get_backend_name() == "sqlite":
        _check_sqlite(settings, url)
    else:
        _check_postgresql(url)


def check_instance_folder(settings: Settings) -> None:
    """Raise ConfigError when the instance folder neither exists nor can be created."""
    instance = settings.instance_path.resolve()
    if instance.is_dir():
        return
    if instance.exists():
        raise ConfigError(f"the {instance_hint(settings)}, is not a folder")
    ancestor = next(parent for parent in instance.parents if parent.exists())
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot create the {instance_hint(settings)}: {ancestor} is not a writable folder")


def _check_sqlite(settings: Settings, url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:") or url.query.get("uri"):
        return  # in memory, or a URI filename: nothing on disk to check
    path = Path(database).resolve()
    folder = path.parent
    if folder == settings.instance_path.resolve():
        return  # the default place: init creates the instance folder (check_instance_folder)
    if not folder.is_dir():
        raise ConfigError(f"the folder of the SQLite database {path} does not exist: create {folder} or change DATABASE_URL")
    if path.exists() and not path.is_file():
        raise ConfigError(f"the SQLite database {path} is not a file")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"the folder of the SQLite database {path} is not writable")


def _check_postgresql(url: URL) -> None:
    connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": CONNECT_TIMEOUT}
    try:
        engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    except (NoSuchModuleError, ImportError):
        raise ConfigError(f"DATABASE_URL: no driver for {url.drivername}; use postgresql+psycopg://USER@HOST:PORT/NAME") from None
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        raise ConfigError(postgresql_problem(url, exc)) from None
    finally:
        engine.dispose()


def postgresql_problem(url: URL, exc: DBAPIError) -> str:
    """One line on why a connection to PostgreSQL failed: never the password nor the full URL."""
    where = f"{url.host or 'localhost'}:{url.port or POSTGRESQL_PORT}"
    text = str(exc.orig) if exc.orig is not None else str(exc)
    if url.password:
        text = text.replace(str(url.password), "***")
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc.orig or exc).__name__)
    # psycopg: 'connection failed: connection to server at "HOST", port PORT failed: FATAL:  REASON'
    reason = " ".join(first.rsplit(" failed: ", 1)[-1].removeprefix("FATAL:").split())
    lowered = reason.lower()
    if lowered.startswith("database") and "does not exist" in lowered:
        return f"the database {url.database} does not exist on {where}"
    if (lowered.startswith("role") and "does not exist" in lowered) or "authentication failed" in lowered \
            or "no password supplied" in lowered or "no pg_hba.conf entry" in lowered:
        return f"the database server at {where} refused the user {url.username or '(default)'} ({reason})"
    return f"cannot reach the database at {where} ({reason})"

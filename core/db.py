"""The database engine and schema migrations.

SQLite (the embedded default) runs in WAL mode with ``synchronous=NORMAL``: commits stay durable
against a process crash and are ~10 times faster than ``FULL`` (DESIGN.md section 10).
``secure_delete`` overwrites freed pages so that a destroyed data key does not linger in the file.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection


def make_engine(url: str, pool_size: int = 5) -> Engine:
    """An engine for ``url``, with the connection settings this service relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling is off (isolation_level None); we begin ourselves.
        # A write transaction begins IMMEDIATE: it takes the write lock first, so that what it
        # reads cannot change before it writes (a deferred one would fail with SQLITE_BUSY).
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


WRITE_OPTION = "dossier_write"


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "secure_delete=ON",
        "busy_timeout=30000",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """Alembic's configuration, pointing at the migrations shipped inside the package."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("migrations")))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision``."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def schema_is_current(connection: Connection) -> bool:
    """True when the database is at the newest migration."""
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads


def forget_old_versions(engine: Engine) -> None:
    """Drop page images that still hold overwritten rows (after an erasure).

    NOTE: on SQLite the WAL keeps old copies of a page until a checkpoint; with secure_delete on,
    a TRUNCATE checkpoint leaves the destroyed data key in neither the WAL nor the main file.
    On PostgreSQL, dead row versions last until VACUUM; the data key in them is still wrapped
    under a key-encryption key, which a rotation replaces.
    """
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

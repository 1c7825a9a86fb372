"""Migrations run on databases that hold data, down and up again, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import func, select

from core.db import alembic_config, foreign_keys_deferred, make_engine
from core.identity.roles import Role
from core.models import accounts, seeker_assignments


def test_every_migration_goes_down_and_up_again_on_a_populated_database(rt, make_person, seeker, advisor) -> None:
    from core.identity.clients import create_client

    create_client(rt, "gateway", ["channel:mail"])
    make_person(Role.ADMIN)
    engine = make_engine(rt.settings.database_url)
    try:
        # Down to before the plugin and service-client tables, with assignments referring to accounts
        # (SQLite rebuilds the accounts table on the way), then up to the latest again.
        with engine.connect() as conn, foreign_keys_deferred(conn):
            command.downgrade(alembic_config(conn), "0004")
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(seeker_assignments)).scalar_one() == 1
        with engine.connect() as conn, foreign_keys_deferred(conn):
            command.upgrade(alembic_config(conn), "head")
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(seeker_assignments)).scalar_one() == 1
            roles = sorted(conn.execute(select(accounts.c.role)).scalars())
        # The service client's account went with the downgrade; people's accounts stayed.
        assert roles == ["admin", "advisor", "seeker"]
    finally:
        engine.dispose()

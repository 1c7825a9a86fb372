"""The runtime: everything create_app composes, handed to services as their dependencies."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from config.logging import exception_summary
from config.settings import ConfigError, Settings
from core.access import AccessRefused
from core.errors import Gone
from core.crypto.interfaces import KeyProvider
from core.crypto.keyring import LocalKeyring
from core.crypto.sealing import Sealer
from core.db import WRITE_OPTION, make_engine, writer_lock
from core.identity.signing import SigningKeyError, SigningKeys
from core.identity.tokens import TokenService
from core.models import utcnow
from core.plugins.host import PluginHost

log = logging.getLogger("dossier")
KEYRING_FILE = "keyring.json"
_AFTER_COMMIT = "dossier_after_commit"
SIGNING_KEYS_FILE = "signing-keys.json"


@dataclass
class Runtime:
    """The service's dependencies: settings, database, keys, tokens and the clock."""

    settings: Settings
    engine: Engine
    keys: KeyProvider
    sealer: Sealer
    signing: SigningKeys
    tokens: TokenService
    clock: Callable[[], datetime] = utcnow
    # Set by create_app once the plugins are loaded and checked (core.plugins.host.start).
    plugins: PluginHost = field(default_factory=PluginHost.empty)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One user action: commits on success, rolls back on error.

        Every user action writes (at least its audit entry), so on SQLite the transaction takes
        the write lock when it begins: what it reads cannot change before it writes.

        NOTE: a refused access still commits, so that the record of the refusal is kept
        (invariant 2); the refusal is raised before anything is written.

        What ``after_commit`` registers runs once the transaction has committed and its locks are
        released (delivering events to plugins, asking them to purge): not after a rollback, nor
        after a refused access's commit (which wrote its audit entry and nothing else).
        """
        callbacks: list[Callable[[], object]] = []
        # The connection is checked out before the writer lock is taken and returned after it is
        # released: the lock covers the transaction alone.
        with self._write_engine.connect() as conn, self._writer_lock.held() if self._writer_lock else nullcontext():
            conn.info[_AFTER_COMMIT] = callbacks
            conn.begin()
            try:
                yield conn
            except (AccessRefused, Gone):
                conn.commit()
                raise
            except BaseException:
                conn.rollback()
                raise
            finally:
                conn.info.pop(_AFTER_COMMIT, None)
            conn.commit()
        for callback in callbacks:
            # NOTE: the action has committed: what follows it (delivering events, asking plugins to
            # purge) must not turn it into an error, nor stop the next callback; the background
            # worker takes up whatever is left pending.
            try:
                callback()
            except Exception as exc:  # noqa: BLE001
                log.error("after-commit work failed", extra={"error": exception_summary(exc)})

    def __post_init__(self) -> None:
        self._writer_lock = writer_lock(self.engine)
        self._write_engine = self.engine.execution_options(**{WRITE_OPTION: True})


def after_commit(conn: Connection, callback: Callable[[], object]) -> None:
    """Run ``callback`` after the commit of the ``Runtime.transaction`` that ``conn`` belongs to,
    once however often it is registered."""
    try:
        callbacks = conn.info[_AFTER_COMMIT]
    except KeyError:
        raise RuntimeError("after_commit needs a connection of Runtime.transaction") from None
    if callback not in callbacks:
        callbacks.append(callback)


def build_runtime(settings: Settings) -> Runtime:
    """Open the instance's keys and database; fail with one clear line if it is not initialised."""
    instance = settings.instance_path
    keyring_path = instance / KEYRING_FILE
    if not keyring_path.is_file():
        raise ConfigError(f"no keyring at {keyring_path}; run `dossier init` first")
    keys = LocalKeyring(keyring_path, settings.KEYRING_RELOAD_INTERVAL)
    try:
        signing = SigningKeys(instance / SIGNING_KEYS_FILE)
    except SigningKeyError as exc:
        raise ConfigError(str(exc)) from None
    tokens = TokenService(
        signing,
        issuer=settings.TOKEN_ISSUER,
        audience=settings.TOKEN_AUDIENCE,
        ttl=settings.TOKEN_TTL,
        leeway=settings.TOKEN_LEEWAY,
        cache_size=settings.TOKEN_CACHE_SIZE,
    )
    return Runtime(
        settings=settings,
        engine=make_engine(settings.database_url, settings.DATABASE_POOL_SIZE),
        keys=keys,
        sealer=Sealer(keys, settings.DATA_KEY_CACHE_SIZE),
        signing=signing,
        tokens=tokens,
    )


def instance_files(instance: Path) -> tuple[Path, Path]:
    return instance / KEYRING_FILE, instance / SIGNING_KEYS_FILE


def runtime(app: Flask | None = None) -> Runtime:
    """The runtime of ``app`` (default: the current app)."""
    rt: Runtime = (app or current_app).extensions["dossier"]
    return rt

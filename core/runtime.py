"""The runtime: the service's infrastructure as create_app composes it, handed to services.

It holds settings, the database (engine and unit of work), the keys, the token service and the
clock. It knows nothing of plugins: the plugin gateway (``core.plugins.gateway``) is composed
beside it and given to the services that tell plugins about changes.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from config.settings import ConfigError, Settings
from core.crypto.interfaces import KeyProvider
from core.crypto.keyring import LocalKeyring
from core.crypto.sealing import Sealer
from core.db import make_engine
from core.identity.signing import SigningKeyError, SigningKeys
from core.identity.tokens import TokenService
from core.models import utcnow
from core.unit_of_work import UnitOfWork

KEYRING_FILE = "keyring.json"
SIGNING_KEYS_FILE = "signing-keys.json"
EXTENSION = "dossier"


@dataclass
class Runtime:
    """The service's dependencies: settings, database, keys, tokens and the clock."""

    settings: Settings
    engine: Engine
    work: UnitOfWork
    keys: KeyProvider
    sealer: Sealer
    signing: SigningKeys
    tokens: TokenService
    clock: Callable[[], datetime] = utcnow

    def transaction(self) -> AbstractContextManager[Connection]:
        """One user action in one transaction (``core.unit_of_work.UnitOfWork.transaction``)."""
        return self.work.transaction()


def build_runtime(settings: Settings) -> Runtime:
    """Open the instance's keys and database; fail with one clear line if it is not initialised."""
    keyring_path, signing_path = instance_files(settings.instance_path)
    if not keyring_path.is_file():
        raise ConfigError(f"no keyring at {keyring_path.resolve()}; run `dossier init` ({instance_hint(settings)})")
    keys = LocalKeyring(keyring_path, settings.KEYRING_RELOAD_INTERVAL)
    try:
        signing = SigningKeys(signing_path, settings.KEYRING_RELOAD_INTERVAL)
    except SigningKeyError as exc:
        raise ConfigError(f"{exc} ({instance_hint(settings)})") from None
    tokens = TokenService(
        signing,
        issuer=settings.TOKEN_ISSUER,
        audience=settings.TOKEN_AUDIENCE,
        ttl=settings.TOKEN_TTL,
        leeway=settings.TOKEN_LEEWAY,
        cache_size=settings.TOKEN_CACHE_SIZE,
    )
    engine = make_engine(settings.database_url, settings.DATABASE_POOL_SIZE)
    return Runtime(
        settings=settings,
        engine=engine,
        work=UnitOfWork(engine),
        keys=keys,
        sealer=Sealer(keys, settings.DATA_KEY_CACHE_SIZE),
        signing=signing,
        tokens=tokens,
    )


def instance_files(instance: Path) -> tuple[Path, Path]:
    return instance / KEYRING_FILE, instance / SIGNING_KEYS_FILE


def instance_hint(settings: Settings) -> str:
    """Where the instance folder is and how to choose another, for messages about it."""
    return f"instance folder {settings.instance_path.resolve()}, chosen by DOSSIER_INSTANCE_PATH (default ./instance)"


def runtime(app: Flask | None = None) -> Runtime:
    """The runtime of ``app`` (default: the current app)."""
    rt: Runtime = (app or current_app).extensions[EXTENSION]
    return rt

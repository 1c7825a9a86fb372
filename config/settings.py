"""Load and validate the service's settings.

Order (later wins), as in Flask's tutorial: built-in defaults, the instance file
``<instance>/dossier.toml``, ``DOSSIER_*`` environment variables, then the overrides a caller
passes (tests). The result is validated once; a bad setting stops start-up with one line naming it.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "DOSSIER_"
# The names list settings hold (plugins): as plugins.api.NAME_PATTERN.
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}\Z")
# A note verifier key (C2SP signed-note): <name>+<8 hex digits of key ID>+<base64 of type and key>.
_VKEY = re.compile(r"^[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+={0,2}\Z")
# What each list setting holds, where it is not names.
_SECONDS = re.compile(r"^\d{1,7}(\.\d{1,3})?\Z")
_LIST_ITEMS = {"AUDIT_WITNESSES": (_VKEY, "witness verifier keys (name+keyid+key)"),
               "DELIVERY_RETRY_SCHEDULE": (_SECONDS, "numbers of seconds")}
# List settings whose items are numbers: written as numbers (TOML, JSON) or as strings.
_NUMBER_LISTS = frozenset({"DELIVERY_RETRY_SCHEDULE"})
INSTANCE_FILE = "dossier.toml"


class ConfigError(Exception):
    """A setting is missing or invalid; the message is one line naming it."""


@dataclass(frozen=True)
class Settings:
    """Every setting of the service, with its default."""

    INSTANCE_PATH: str = "instance"
    # Empty means SQLite in the instance folder.
    DATABASE_URL: str = ""
    DATABASE_POOL_SIZE: int = 5
    # Token issuer and audience (RFC 9068): the issuer names this deployment.
    TOKEN_ISSUER: str = "urn:dossier:local"
    TOKEN_AUDIENCE: str = "dossier-api"
    TOKEN_TTL: int = 3600
    TOKEN_LEEWAY: int = 30
    # Verified tokens are remembered until they expire so that the signature is not checked on
    # every request (docs/design.md: Ed25519 verification is a real share of a request).
    TOKEN_CACHE_SIZE: int = 10_000
    DATA_KEY_CACHE_SIZE: int = 4096
    KEY_PROVIDER: str = "local"
    # How often (seconds) a worker looks for a keyring file rewritten by `dossier keys rotate` or
    # `retire`, or a signing-key file rewritten by `dossier keys rotate-signing`.
    KEYRING_RELOAD_INTERVAL: float = 2.0
    LOG_LEVEL: str = "INFO"
    LOG_FORMAT: str = "json"
    PROBLEM_TYPE_BASE: str = "https://dossier.example/problems/"
    # The controller named on consent receipts.
    CONTROLLER_NAME: str = "Service public de l'emploi (instance de démonstration)"
    CONTROLLER_CONTACT: str = "dpo@dossier.example"
    # The audit log's name in its C2SP signed-note checkpoints (the origin line), unique to this
    # log and stable for its life; witnesses know the log by it (docs/audit.md).
    AUDIT_LOG_ORIGIN: str = "dossier.example/audit"
    # Witnesses whose cosignatures of checkpoints are accepted: their note verifier keys (vkeys).
    AUDIT_WITNESSES: tuple[str, ...] = ()
    # How often (seconds) each server worker sequences queued audit entries into the tree; 0: never.
    AUDIT_SEQUENCE_INTERVAL: float = 1.0
    # Third-party plugins (entry points of the group dossier.plugins) are off unless named here;
    # a blocked plugin never runs, built-in or not (docs/plugins.md).
    PLUGINS_ENABLED: tuple[str, ...] = ()
    PLUGINS_BLOCKED: tuple[str, ...] = ()
    # Each plugin's own settings, by plugin name (``[plugins.matching]`` in the instance file, or
    # DOSSIER_PLUGINS as a JSON object); checked against what the plugin declares at start-up.
    PLUGINS: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Seconds a plugin's hook may take before the gateway gives up on it (the call is isolated).
    PLUGIN_TIMEOUT: float = 5.0
    # Seconds a plugin's process start (dossier_process_started: building an index) may take.
    PLUGIN_START_TIMEOUT: float = 60.0
    # How often (seconds) the server delivers queued events to plugins and retries unconfirmed
    # purges; 0: events are delivered right after the change commits, in the same request.
    PLUGIN_DISPATCH_INTERVAL: float = 1.0
    # How often (seconds) the background work runs the plugins' periodic work (dossier_scheduled).
    PLUGIN_SCHEDULE_INTERVAL: float = 60.0
    # The first retry of an unconfirmed purge comes after this many seconds, then twice as long each time.
    PLUGIN_PURGE_RETRY_SECONDS: int = 30
    # Employers' contact requests (docs/matching.md): days a pending one waits for the seeker's
    # answer, and how many an employer may send in 24 hours.
    CONTACT_REQUEST_TTL_DAYS: int = 14
    CONTACT_REQUESTS_PER_DAY: int = 20
    # Where people reach the service: the links in alerts and e-mails start with it.
    PUBLIC_URL: str = "http://127.0.0.1:8000"
    # E-mail (docs/alerts.md): without a host, no e-mail is sent (the null backend); TLS is none,
    # starttls or tls (implicit, port 465 usually); SMTP_CA_FILE adds a CA to trust for the server.
    SMTP_HOST: str = ""
    SMTP_PORT: int = 587
    SMTP_TLS: str = "starttls"
    SMTP_USERNAME: str = ""
    SMTP_PASSWORD: str = ""
    SMTP_SENDER: str = "dossier@dossier.example"
    SMTP_TIMEOUT: float = 10.0
    SMTP_CA_FILE: str = ""
    # Seconds a webhook endpoint has to answer a delivery.
    WEBHOOK_TIMEOUT: float = 10.0
    # Seconds after a failed attempt before each retry (the Standard Webhooks schedule: 5 s, 5 min,
    # 30 min, 2 h, 5 h, 10 h, 10 h; some 27 hours in all); then the delivery has failed.
    DELIVERY_RETRY_SCHEDULE: tuple[str, ...] = ("5", "300", "1800", "7200", "18000", "36000", "36000")
    # Seconds a worker holds a delivery it is sending: another takes it up only after that.
    DELIVERY_LEASE_SECONDS: float = 60.0
    # How often (seconds) the server looks for due deliveries; 0: right after the commit that
    # queued them, in the same request (tests). DELIVERY_IN_SERVER false leaves them to `dossier worker`.
    DELIVERY_INTERVAL: float = 1.0
    DELIVERY_IN_SERVER: bool = True
    # Deliveries sent at once by one worker's pass (each in its own short transactions).
    DELIVERY_BATCH: int = 50
    # Channel integrations' inbound messages (core.plugins.channels): the largest body a channel
    # endpoint reads, how many seconds a message's webhook-timestamp may be from the service's
    # clock, and how many days an idempotency key is kept (a retry is answered, not recorded again;
    # longer than senders retry, the Standard Webhooks schedule's 27 hours).
    CHANNEL_MAX_BODY_BYTES: int = 64 * 1024
    CHANNEL_TIMESTAMP_TOLERANCE: int = 300
    CHANNEL_IDEMPOTENCY_DAYS: int = 7
    SERVE_HOST: str = "127.0.0.1"
    SERVE_PORT: int = 8000
    SERVE_WORKERS: int = 2
    TESTING: bool = False

    @property
    def instance_path(self) -> Path:
        return Path(self.INSTANCE_PATH)

    @property
    def database_url(self) -> str:
        if self.DATABASE_URL:
            return self.DATABASE_URL
        return f"sqlite:///{(self.instance_path / 'dossier.sqlite3').resolve()}"


_CHOICES: dict[str, tuple[str, ...]] = {
    "KEY_PROVIDER": ("local",),
    "LOG_LEVEL": ("DEBUG", "INFO", "WARNING", "ERROR"),
    "LOG_FORMAT": ("json", "text"),
    "SMTP_TLS": ("none", "starttls", "tls"),
}
_MINIMUM: dict[str, float] = {
    "CHANNEL_MAX_BODY_BYTES": 256,
    "CHANNEL_TIMESTAMP_TOLERANCE": 1,
    "CHANNEL_IDEMPOTENCY_DAYS": 2,
    "DATABASE_POOL_SIZE": 1,
    "TOKEN_TTL": 60,
    "TOKEN_LEEWAY": 0,
    "TOKEN_CACHE_SIZE": 0,
    "DATA_KEY_CACHE_SIZE": 0,
    "KEYRING_RELOAD_INTERVAL": 0,
    "SERVE_PORT": 1,
    "AUDIT_SEQUENCE_INTERVAL": 0,
    "SERVE_WORKERS": 1,
    "PLUGIN_TIMEOUT": 0.01,
    "PLUGIN_START_TIMEOUT": 0.01,
    "PLUGIN_DISPATCH_INTERVAL": 0,
    "PLUGIN_PURGE_RETRY_SECONDS": 1,
    "PLUGIN_SCHEDULE_INTERVAL": 1,
    "CONTACT_REQUEST_TTL_DAYS": 1,
    "CONTACT_REQUESTS_PER_DAY": 1,
    "SMTP_PORT": 1,
    "SMTP_TIMEOUT": 0.1,
    "WEBHOOK_TIMEOUT": 0.1,
    "DELIVERY_LEASE_SECONDS": 1,
    "DELIVERY_INTERVAL": 0,
    "DELIVERY_BATCH": 1,
}


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from every source, in order, and validate them."""
    environ = os.environ if environ is None else environ
    raw: dict[str, tuple[Any, str]] = {}
    instance = (overrides or {}).get("INSTANCE_PATH") or environ.get(ENV_PREFIX + "INSTANCE_PATH") or "instance"
    raw["INSTANCE_PATH"] = (str(instance), "INSTANCE_PATH")
    instance_file = Path(instance) / INSTANCE_FILE
    if instance_file.is_file():
        try:
            with instance_file.open("rb") as fh:
                for key, value in tomllib.load(fh).items():
                    raw[key.upper()] = (value, f"{instance_file}: {key}")
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{instance_file}: not valid TOML ({exc})") from None
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name != ENV_PREFIX + "INSTANCE_PATH":
            raw[name[len(ENV_PREFIX):]] = (value, name)
    for key, value in (overrides or {}).items():
        raw[key] = (value, key)
    return _validated(raw)


def _validated(raw: Mapping[str, tuple[Any, str]]) -> Settings:
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, (value, origin) in raw.items():
        if key not in known:
            # Unknown DOSSIER_* variables are most often typos: refuse rather than ignore.
            raise ConfigError(f"{origin}: unknown setting {key}")
        spec = known[key]
        default = spec.default if spec.default is not MISSING else spec.default_factory()  # type: ignore[operator]
        values[key] = _coerce(key, value, type(default), origin)
        if key in _CHOICES and values[key] not in _CHOICES[key]:
            raise ConfigError(f"{origin}: must be one of {', '.join(_CHOICES[key])}, got {value!r}")
        if key in _MINIMUM and values[key] < _MINIMUM[key]:
            raise ConfigError(f"{origin}: must be at least {_MINIMUM[key]:g}, got {value!r}")
    settings = Settings(**values)
    url = settings.database_url
    if not (url.startswith("sqlite") or url.startswith("postgresql")):
        raise ConfigError(f"DATABASE_URL: only sqlite and postgresql URLs are supported, got {url.split(':', 1)[0]}")
    return settings


def _coerce(key: str, value: Any, kind: type, origin: str) -> Any:
    if kind is dict:
        # Each plugin's table of settings: a TOML table of tables, or a JSON object of objects.
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ConfigError(f"{origin}: expected a JSON object of plugin settings") from None
        if not isinstance(value, dict) or not all(isinstance(k, str) and _NAME.match(k) and isinstance(v, dict)
                                                  for k, v in value.items()):
            raise ConfigError(f"{origin}: expected a table of plugin names (a-z, 0-9, _), each a table of settings")
        return {name: dict(table) for name, table in value.items()}
    if kind is tuple:
        # A list of names: a TOML array, a JSON array, or a comma-separated string.
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip().startswith("[") else [v.strip() for v in value.split(",") if v.strip()]
            except json.JSONDecodeError:
                raise ConfigError(f"{origin}: expected a list of names, got {value!r}") from None
        if key in _NUMBER_LISTS and isinstance(value, (list, tuple)):
            value = [str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in value]
        item, what = _LIST_ITEMS.get(key, (_NAME, "names (a-z, 0-9, _)"))
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and item.match(v) for v in value):
            raise ConfigError(f"{origin}: expected a list of {what}, got {value!r}")
        return tuple(value)
    if isinstance(value, str) and kind is not str:
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ConfigError(f"{origin}: expected {kind.__name__}, got {value!r}") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is bool and not isinstance(value, bool):
        raise ConfigError(f"{origin}: expected true or false, got {value!r}")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{origin}: expected a whole number, got {value!r}")
    if not isinstance(value, kind):
        raise ConfigError(f"{origin}: expected {kind.__name__}, got {value!r}")
    return value

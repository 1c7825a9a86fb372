"""The application factory: the one place that composes the service."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from config.logging import configure_logging
from config.settings import ConfigError, load_settings
from audit.views import api as audit_api
from consent.views import api as consent_api
from core.db import schema_is_current
from core.delivery.service import ALERT_DESK, AlertDesk
from core.delivery.views import api as delivery_api
from core.evidence.views import api as evidence_api
from core.delivery.worker import deliver_due
from core.dossier.views import api as dossier_api
from core.http.api import ApiBlueprint
from core.http.oauth import TOKEN_OPERATION, register_token_endpoint
from core.http.openapi import build_spec
from core.http.problems import register_error_handlers
from core.http.requestlog import register_request_log
from core.http.system import api as system_api
from core.plugins import gateway as plugin_gateway
from core.plugins.channels import channel_api
from core.plugins.gateway import PluginGateway
from core.plugins.startup import start_plugins
from core.plugins.views import api as plugins_api
from core.runtime import EXTENSION, build_runtime
from core.contact_requests.views import api as contact_requests_api
from core.search.views import api as search_api
from core.taxonomy.views import api as taxonomy_api

API_BLUEPRINTS: tuple[ApiBlueprint, ...] = (system_api, dossier_api, consent_api, audit_api, taxonomy_api, plugins_api,
                                              search_api, contact_requests_api, delivery_api, evidence_api)
MAX_BODY_BYTES = 1024 * 1024


def create_app(test_config: Mapping[str, Any] | None = None, *, plugins: Sequence[Any] = (), start: bool = True) -> Flask:
    """Build the app: settings, logging, runtime (database, keys, tokens), plugins, routes, errors.

    ``plugins`` are plugin objects registered besides the built-in and enabled ones (tests, and
    code that embeds the service). With ``start``, the plugins are told that the service started
    in this process (``dossier_process_started``); one-off commands and the server's master
    process build the app without. Raises ConfigError, with one line naming the problem, when a
    setting is bad, the instance is not initialised or a plugin is refused.
    """
    settings = load_settings(test_config)
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    app = Flask("dossier", instance_path=str(settings.instance_path.resolve()))
    app.config.from_mapping(asdict(settings))
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    rt = build_runtime(settings)
    try:
        _check_schema(rt.engine)
        desk = AlertDesk(rt)
        desk.deliver_now = functools.partial(deliver_due, rt)
        gateway = PluginGateway(rt, start_plugins(rt, plugins), desk)
        # With the channel endpoints that plugins declare (core.plugins.channels).
        blueprints = (*API_BLUEPRINTS, channel_api(rt, gateway))
    except ConfigError:
        rt.engine.dispose()
        raise
    app.extensions[EXTENSION] = rt
    app.extensions[plugin_gateway.EXTENSION] = gateway
    app.extensions[ALERT_DESK] = desk
    app.extensions["dossier.openapi"] = functools.cache(
        lambda: build_spec([op for bp in blueprints for op in bp.operations] + [TOKEN_OPERATION], "dossier", _version())
    )
    register_request_log(app)
    register_error_handlers(app)
    for api in blueprints:
        app.register_blueprint(api.blueprint)
    register_token_endpoint(app)
    if start:
        gateway.process_started()
    return app


def _check_schema(engine: Any) -> None:
    try:
        with engine.connect() as conn:
            current = schema_is_current(conn)
    except SQLAlchemyError as exc:
        raise ConfigError(f"DATABASE_URL: cannot reach the database ({type(exc).__name__})") from None
    if not current:
        raise ConfigError("the database schema is not at the latest migration; run `dossier init`")


def _version() -> str:
    try:
        return version("dossier")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"

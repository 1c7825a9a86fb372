"""``dossier serve``: the app under gunicorn, a production WSGI server.

Under your own gunicorn, ``gunicorn -c python:core.server wsgi:app`` loads this module as its
configuration: its ``post_worker_init`` starts the background work that ``dossier serve`` starts.
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]


class DossierServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn with the app built in each worker (no state is shared across a fork)."""

    def __init__(self, options: dict[str, Any], environ: dict[str, str]) -> None:
        self._options = options
        self._environ = environ
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        os.environ.update(self._environ)
        from core.app import create_app

        app = create_app()
        start_background_work(app)
        return app


def start_background_work(app: Any) -> list[Any]:
    """The threads every server worker runs (one worker of the instance does the work): the audit
    sequencer, the plugins' event delivery and purge retries, and the delivery of alerts. Returns
    the threads started (each ``stop()``s)."""
    from audit.sequencer import start_background_sequencer
    from core.delivery.service import alert_desk
    from core.delivery.worker import start_background_delivery
    from core.plugins.gateway import plugin_gateway
    from core.plugins.worker import start_background_worker
    from core.runtime import runtime

    rt = runtime(app)
    started = (start_background_sequencer(rt, rt.settings.AUDIT_SEQUENCE_INTERVAL), start_background_worker(rt, plugin_gateway(app)),
               start_background_delivery(rt, alert_desk(app)))
    return [worker for worker in started if worker is not None]


def post_worker_init(worker: Any) -> None:
    """gunicorn's hook, for running the service under your own gunicorn:
    ``gunicorn -c python:core.server wsgi:app`` starts the same background work as ``dossier serve``."""
    start_background_work(worker.wsgi)


def bind_address(host: str, port: int) -> str:
    """``host:port`` as gunicorn binds it (an IPv6 address in brackets)."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def serve(host: str, port: int, workers: int, environ: dict[str, str]) -> None:
    """Run gunicorn in the foreground: ``workers`` processes (the SERVE_WORKERS setting unless given)."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    options = {
        "bind": bind_address(host, port),
        "workers": workers,
        "worker_class": "sync",
        # The app writes its own JSON access log without personal data; gunicorn's is off.
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "dossier",
        "keepalive": 5,
        "graceful_timeout": 20,
    }
    DossierServer(options, environ).run()

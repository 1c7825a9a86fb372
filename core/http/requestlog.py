"""Request ids and JSON access logs.

The request id belongs here: the HTTP layer takes it from the caller (if it can only be an id) or
makes one, answers it in ``X-Request-ID``, logs it, and hands it to services with the actor
(``core.http.api.current_actor``), whose audit entries name it.

NOTE: a log line names the route template (``/api/v1/seekers/<subject_id>/dossier``), the status,
the duration and pseudonymous ids; never the query string, a body or a header value.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
# Hex or UUID-shaped, as proxies and load balancers generate them; anything else is replaced.
_VALID_ID = re.compile(r"^[A-Fa-f0-9][A-Fa-f0-9-]{15,63}\Z")

log = logging.getLogger("dossier.request")


def _start() -> None:
    g.started = time.perf_counter()
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    # A caller's id is kept only if it cannot carry anything but an id.
    g.request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request being served; None outside a request."""
    return getattr(g, "request_id", None) if has_request_context() else None


def _finish(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.request_id
    actor = getattr(g, "actor", None)
    log.info(
        "request",
        extra={
            "request_id": g.request_id,
            "method": request.method,
            "route": request.url_rule.rule if request.url_rule else None,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - g.started) * 1000, 2),
            "actor": actor.account_id if actor else None,
            "role": actor.role.value if actor else None,
        },
    )
    return response


def register_request_log(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)

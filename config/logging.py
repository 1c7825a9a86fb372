"""JSON-lines logging. Log records carry references (request id, account id), never personal data."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

# Attributes of every LogRecord; anything else a caller passes with ``extra=`` is a field.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            # The process: which server worker wrote the line.
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = exception_summary(record.exc_info[1])
        return json.dumps(entry, default=str, ensure_ascii=False)


def exception_summary(exc: BaseException | None) -> dict[str, Any]:
    """The type and the frames of an exception, without its message.

    NOTE: exception messages may quote values (a database error repeats its parameters), so only
    the type and the code locations are logged: enough to find the bug, nothing about a person.
    """
    if exc is None:
        return {}
    frames = traceback.extract_tb(exc.__traceback__)
    return {
        "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "frames": [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}" for f in frames[-8:]],
    }


def configure_logging(level: str, fmt: str) -> None:
    """Send the service's logs to standard error in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("dossier")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False

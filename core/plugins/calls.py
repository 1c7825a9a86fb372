"""Calling one plugin's hook so that nothing it does can break the caller or another plugin.

Each call runs on a daemon thread of its own and is waited for up to its time limit
(``PLUGIN_TIMEOUT``, or ``PLUGIN_START_TIMEOUT`` for a process start). An exception becomes an
outcome, not a failure of the caller; a call that overruns is left behind (Python cannot stop a
thread), and until it returns that plugin gets no new call ("busy"), so a plugin that hangs holds
one thread per caller that was waiting on it when it hung. Outcomes name the error's class, never
its message (a message may quote personal data).
"""

from __future__ import annotations

import contextvars
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from config.logging import exception_summary

log = logging.getLogger("dossier.plugins")


class Outcome(StrEnum):
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    BUSY = "busy"


@dataclass(frozen=True)
class CallResult:
    outcome: Outcome
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}\Z")


def error_kind(error: BaseException) -> str:
    """What is kept of a plugin's exception: its class's name if it is a plain identifier, never its message."""
    name = type(error).__name__
    return name if _IDENTIFIER.match(name) else "plugin_exception"


class IsolatedCalls:
    """Runs plugin calls with a time limit, one overrunning call per plugin at most."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        # Every call of each plugin that overran and still runs (two callers may both have waited on it).
        self._overrunning: dict[str, list[threading.Thread]] = {}
        self._lock = threading.Lock()

    def busy(self, plugin: str) -> bool:
        """Whether a call of ``plugin`` that overran is still running (its next call is refused)."""
        with self._lock:
            running = [thread for thread in self._overrunning.get(plugin, ()) if thread.is_alive()]
            if running:
                self._overrunning[plugin] = running
            else:
                self._overrunning.pop(plugin, None)
        return bool(running)

    def call(self, plugin: str, hook: str, function: Callable[..., Any], *, finished: Callable[[], object] | None = None,
             timeout: float | None = None, **kwargs: Any) -> CallResult:
        """Run ``function(**kwargs)`` as ``plugin``'s call of ``hook``, waiting ``timeout`` seconds
        (default: the plugins' timeout) for the plugin's code; ``finished`` runs on the call's thread
        once that code has returned, even after a timeout, and is not counted in the time limit."""
        if self.busy(plugin):
            if finished is not None:
                _quietly(finished)
            return self._failed(plugin, hook, CallResult(Outcome.BUSY, error="previous call still running"))
        box: dict[str, Any] = {}
        returned = threading.Event()

        def run() -> None:
            try:
                box["value"] = function(**kwargs)
            except BaseException as exc:
                box["error"] = exc
            finally:
                returned.set()
                if finished is not None:
                    _quietly(finished)

        # NOTE: a fresh, empty context: a copy of the caller's would hand the plugin Flask's app and
        # request contexts, which are context variables.
        context = contextvars.Context()
        thread = threading.Thread(target=context.run, args=(run,), name=f"plugin:{plugin}:{hook}", daemon=True)
        thread.start()
        if not returned.wait(self.timeout if timeout is None else timeout):
            with self._lock:
                self._overrunning.setdefault(plugin, []).append(thread)
            return self._failed(plugin, hook, CallResult(Outcome.TIMEOUT, error="timeout"))
        if "error" in box:
            return self._failed(plugin, hook, CallResult(Outcome.ERROR, error=error_kind(box["error"])))
        return CallResult(Outcome.OK, box.get("value"))

    @staticmethod
    def _failed(plugin: str, hook: str, result: CallResult) -> CallResult:
        log.warning("plugin call failed", extra={"plugin": plugin, "hook": hook, "outcome": result.outcome.value,
                                                 "error": result.error})
        return result


def _quietly(callback: Callable[[], object]) -> None:
    """The service's own follow-up of a call: a failure is logged, never raised into the plugin's thread."""
    try:
        callback()
    except Exception as exc:
        log.error("plugin call follow-up failed", extra={"error": exception_summary(exc)})

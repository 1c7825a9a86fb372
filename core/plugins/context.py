"""What one hook call receives besides its arguments: its context and the plugin's stores.

NOTE: a context holds nothing of the service. It names its call by a random token of 128 bits (a
number that cannot be guessed: knowing one call's token says nothing of another's); the service's
side of the call (its stores' backend, the plugin, the purpose) is kept here, in ``_OPEN``, while
the call runs, and dropped when it ends. So no attribute of what a plugin is handed leads to the
runtime (the engine, keys, the token signer), and after the call nothing works (``Revoked``).
In-process Python is no sandbox (docs/plugins.md, "The known limit"): this keeps the boundary
explicit, it does not enforce it against code that sets out to cross it.
"""

from __future__ import annotations

import gc
import json
import logging
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from core.crypto.sealing import Sealer, WrappedKey
from core.plugins import store
from core.plugins.registry import Plugin
from core.unit_of_work import UnitOfWork
from plugins.api import Advisor, Alert, NotHeld, Revoked, StoreChanges

if TYPE_CHECKING:
    from core.delivery.service import AlertDesk

MAX_VALUE_BYTES = 256 * 1024
MAX_KEY_LENGTH = 200
# Entries decoded together by ``PluginSubjectStore.changes``.
DECODE_BATCH = 256


@dataclass(frozen=True)
class StoreBackend:
    """What the plugins' contexts use: the database, the seekers' keys and the clock, and the
    delivery service's desk for plugins that send alerts (service side)."""

    work: UnitOfWork
    sealer: Sealer
    clock: Callable[[], datetime]
    alerts: AlertDesk | None = None


class ChannelRecorder(Protocol):
    """What a channel endpoint's context records through (``core.plugins.channels.Recorder``)."""

    def record_contact(self, *, email: str | None, national_id: str | None, channel: str, occurred_at: datetime,
                       summary: str) -> str | None: ...

    def record_activity(self, *, email: str | None, national_id: str | None, kind: str, occurred_at: datetime,
                        description: str, organisation: str | None, channel: str | None) -> str | None: ...


@dataclass(frozen=True)
class _Call:
    """The service's side of one open call."""

    backend: StoreBackend
    plugin: Plugin
    purpose: str | None
    legal_basis: str
    # A channel endpoint's call records what arrived through this (core.plugins.channels).
    recorder: ChannelRecorder | None = None


_OPEN: dict[str, _Call] = {}


def _recorder(call: _Call) -> ChannelRecorder:
    if call.recorder is None:
        raise Revoked("only a channel endpoint's context records contacts and activities")
    return call.recorder


def _open(number: str) -> _Call:
    call = _OPEN.get(number)
    if call is None:
        raise Revoked("this context was for a call that has ended")
    return call


class CallContext:
    """plugins.api.PluginContext (and ChannelContext) of one call of one plugin."""

    __slots__ = ("_number", "_plugin", "_purpose", "_settings", "_store", "_shared", "_log")

    def __init__(self, backend: StoreBackend, plugin: Plugin, purpose: str | None, legal_basis: str,
                 recorder: ChannelRecorder | None = None) -> None:
        self._number = secrets.token_hex(16)
        _OPEN[self._number] = _Call(backend, plugin, purpose, legal_basis, recorder)
        self._plugin, self._purpose, self._settings = plugin.name, purpose, plugin.settings
        self._store = PluginSubjectStore(self._number)
        self._shared = PluginSharedStore(self._number)
        self._log = logging.getLogger(f"dossier.plugin.{plugin.name}")

    @property
    def plugin(self) -> str:
        return self._plugin

    @property
    def purpose(self) -> str | None:
        return self._purpose

    @property
    def store(self) -> PluginSubjectStore:
        return self._store

    @property
    def shared(self) -> PluginSharedStore:
        return self._shared

    @property
    def settings(self) -> Mapping[str, Any]:
        return self._settings

    @property
    def log(self) -> logging.Logger:
        return self._log

    def now(self) -> datetime:
        return _open(self._number).backend.clock()

    def record_contact(self, *, email: str | None = None, national_id: str | None = None, channel: str,
                       occurred_at: datetime, summary: str) -> str | None:
        return _recorder(_open(self._number)).record_contact(email=email, national_id=national_id, channel=channel,
                                                            occurred_at=occurred_at, summary=summary)

    def record_activity(self, *, email: str | None = None, national_id: str | None = None, kind: str,
                        occurred_at: datetime, description: str, organisation: str | None = None,
                        channel: str | None = None) -> str | None:
        return _recorder(_open(self._number)).record_activity(email=email, national_id=national_id, kind=kind,
                                                             occurred_at=occurred_at, description=description,
                                                             organisation=organisation, channel=channel)

    def advisors(self, employer_id: str | None = None) -> tuple[Advisor, ...]:
        return _alert_desk(_open(self._number)).advisors(employer_id)

    def send_alert(self, alert: Alert) -> str:
        call = _open(self._number)
        return _alert_desk(call).send_alert(call.plugin.name, alert)

    def end(self) -> None:
        """The call is over: nothing reached through this context works any more."""
        _OPEN.pop(self._number, None)

    def __repr__(self) -> str:
        return f"CallContext(plugin={self._plugin!r}, purpose={self._purpose!r})"


def _alert_desk(call: _Call) -> AlertDesk:
    if not call.plugin.manifest.sends_alerts:
        raise ValueError(f"the manifest of {call.plugin.name} does not declare sends_alerts")
    if call.backend.alerts is None:
        raise Revoked("this context cannot send alerts")
    return call.backend.alerts


def _encode(value: Any) -> bytes:
    encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    if len(encoded) > MAX_VALUE_BYTES:
        raise ValueError(f"a stored value is limited to {MAX_VALUE_BYTES} bytes of JSON")
    return encoded


def _declared(plugin: Plugin, name: str, per_subject: bool) -> None:
    if not any(s.name == name and s.per_subject is per_subject for s in plugin.manifest.stores):
        kind = "per-seeker" if per_subject else "shared"
        raise ValueError(f"{name!r} is not a {kind} store of the manifest of {plugin.name}")


class PluginSubjectStore:
    """plugins.api.SubjectStore: entries about seekers, sealed under each seeker's data key
    (associated data: the plugin, the purpose and the store name), kept under the call's purpose.

    They are written only while the plugin holds that seeker under the purpose, read back only
    while the purpose is live, and deleted by the service when it goes; erasure leaves them
    unreadable. Every write and deletion is numbered in the store's change feed (``changes``).
    """

    __slots__ = ("_number",)

    def __init__(self, number: str) -> None:
        self._number = number

    def put(self, pseudonym: str, name: str, value: Any) -> None:
        call, purpose = self._check(name)
        plaintext = _encode(value)
        backend, plugin = call.backend, call.plugin.name
        now = backend.clock()
        with backend.work.transaction() as conn:
            subject_id, key = store.held_subject(conn, plugin, pseudonym, purpose, call.legal_basis, now, lock=True)
            sealed = backend.sealer.cipher(subject_id, key).seal(_record(plugin), f"{purpose}/{name}", plaintext)
            store.put_entry(conn, plugin, subject_id, pseudonym, purpose, name, sealed, now)

    def get(self, pseudonym: str, name: str) -> Any | None:
        call, purpose = self._check(name)
        backend, plugin = call.backend, call.plugin.name
        with backend.work.engine.connect() as conn:
            try:
                subject_id, key = store.held_subject(conn, plugin, pseudonym, purpose, call.legal_basis, backend.clock())
            except NotHeld:
                return None
            sealed = store.get_entry(conn, plugin, subject_id, purpose, name)
        return None if sealed is None else _opened(call, subject_id, key, purpose, name, sealed)

    def delete(self, pseudonym: str, name: str | None = None) -> int:
        call, purpose = self._check(name)
        plugin = call.plugin.name
        with call.backend.work.transaction() as conn:
            subject_id = store.holder_of(conn, plugin, pseudonym, purpose)
            if subject_id is None:
                return 0
            return store.delete_entries(conn, plugin, subject_id, pseudonym, purpose, name)

    def items(self, name: str) -> Iterator[tuple[str, Any]]:
        """(pseudonym, value) of every seeker whose entry ``name`` is live under the call's purpose."""
        call, purpose = self._check(name)
        with call.backend.work.engine.connect() as conn:
            rows = store.live_entries(conn, call.plugin.name, purpose, name, call.legal_basis, call.backend.clock())
        for pseudonym, subject_id, version, wrapped, sealed in rows:
            call, _ = self._check(name)  # the call may end while the plugin iterates
            yield pseudonym, _opened(call, subject_id, WrappedKey(version, wrapped), purpose, name, sealed)

    def changes(self, name: str, since: int = 0) -> StoreChanges:
        """Entries ``name`` written or removed after ``since``: one statement, and only those opened."""
        call, purpose = self._check(name)
        if type(since) is not int or since < 0:
            raise ValueError("since is a cursor of an earlier StoreChanges, or 0")
        # NOTE: a first read opens every entry (a million at start-up, say), each a few new
        # containers; the cyclic collector would traverse all of them again at each of its passes
        # (most of the read's time), so it is paused while they are made. They hold no cycle.
        collecting = gc.isenabled()
        gc.disable()
        try:
            with call.backend.work.engine.connect() as conn:
                rows = store.changes_since(conn, call.plugin.name, purpose, name, call.legal_basis, since, call.backend.clock())
            # Each entry opened as _opened opens it, with what is the same for every row made once,
            # and decoded in batches: one JSON array of the batch's plaintexts (each is one JSON
            # value, as _encode wrote it and the seal vouches for), which parses in half the time.
            open_ = call.backend.sealer.feed_opener(_record(call.plugin.name), f"{purpose}/{name}")
            changed: dict[str, Any] = {}
            removed: dict[str, None] = {}
            batch: list[tuple[str, bytes]] = []

            def decode() -> None:
                values = json.loads(b"[" + b",".join(plaintext for _, plaintext in batch) + b"]")
                if len(values) != len(batch):
                    raise ValueError("a stored value is not one JSON value")
                for (pseudonym, _), value in zip(batch, values, strict=True):
                    if pseudonym in changed:  # not removed by a later change of the batch
                        changed[pseudonym] = value
                batch.clear()

            cursor = rows[-1].seq if rows else since
            # Each row let go once opened (taken from the end of the reversed list, so in order):
            # the documents then reuse its memory rather than the process growing by all of them.
            rows.reverse()
            while rows:
                _seq, pseudonym, subject_id, kek_version, wrapped_dek, sealed, live = rows.pop()
                if sealed is not None and live and wrapped_dek is not None:
                    removed.pop(pseudonym, None)
                    changed[pseudonym] = None  # its place, in the order of the feed; the value once decoded
                    batch.append((pseudonym, open_(subject_id, kek_version, wrapped_dek, sealed)))
                    if len(batch) == DECODE_BATCH:
                        decode()
                else:
                    changed.pop(pseudonym, None)
                    removed[pseudonym] = None
            if batch:
                decode()
            return StoreChanges(int(cursor), tuple(changed.items()), tuple(removed))
        finally:
            if collecting:
                gc.enable()

    def _check(self, name: str | None) -> tuple[_Call, str]:
        call = _open(self._number)
        if call.purpose is None:
            raise ValueError("this call is made under no purpose: it may keep nothing about a seeker")
        if name is not None:
            _declared(call.plugin, name, per_subject=True)
        return call, call.purpose


def _record(plugin: str) -> str:
    return f"plugin:{plugin}"


def _opened(call: _Call, subject_id: str, key: WrappedKey, purpose: str, name: str, sealed: bytes) -> Any:
    plaintext = call.backend.sealer.cipher(subject_id, key).open(_record(call.plugin.name), f"{purpose}/{name}", sealed)
    return json.loads(plaintext)


class PluginSharedStore:
    """plugins.api.SharedStore: the plugin's data about no seeker, as plain JSON."""

    __slots__ = ("_number",)

    def __init__(self, number: str) -> None:
        self._number = number

    def put(self, name: str, key: str, value: Any) -> None:
        call = self._check(name)
        if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH:
            raise ValueError(f"a shared key is a string of 1 to {MAX_KEY_LENGTH} characters")
        encoded = _encode(value).decode()
        with call.backend.work.transaction() as conn:
            store.put_shared(conn, call.plugin.name, name, key, encoded, call.backend.clock())

    def get(self, name: str, key: str) -> Any | None:
        call = self._check(name)
        with call.backend.work.engine.connect() as conn:
            value = store.get_shared(conn, call.plugin.name, name, key)
        return None if value is None else json.loads(value)

    def delete(self, name: str, key: str) -> bool:
        call = self._check(name)
        with call.backend.work.transaction() as conn:
            return store.delete_shared(conn, call.plugin.name, name, key)

    def items(self, name: str) -> Iterator[tuple[str, Any]]:
        call = self._check(name)
        with call.backend.work.engine.connect() as conn:
            rows = store.shared_items(conn, call.plugin.name, name)
        for key, value in rows:
            yield key, json.loads(value)

    def _check(self, name: str) -> _Call:
        call = _open(self._number)
        _declared(call.plugin, name, per_subject=False)
        return call

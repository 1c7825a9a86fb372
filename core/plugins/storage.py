"""A plugin's own store: its derived data, never the core's tables (plugins.api.SubjectStore).

Entries about a seeker are sealed under the seeker's data key (associated data: the plugin, the
purpose and the store name), so erasure leaves them unreadable; they are written only while the
plugin holds that seeker under the call's purpose, and read back only while that purpose is still
live. Shared entries are plain JSON and must hold nothing about a seeker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, delete, exists, false, select
from sqlalchemy.engine import Connection

from consent.store import live_consent_clause
from core.crypto.sealing import SubjectCipher, WrappedKey
from core.db import upsert
from core.models import subjects
from core.plugins.models import plugin_holdings, plugin_shared_data, plugin_subject_data
from core.plugins.registry import Plugin
from core.plugins.release import lock_subject_for_share
from core.policy import RELEASE_BASES
from plugins.api import NotHeld, Revoked

if TYPE_CHECKING:
    from core.runtime import Runtime

MAX_VALUE_BYTES = 256 * 1024
MAX_KEY_LENGTH = 200


class CallState:
    """Whether the call a context was made for is still running (shared by its stores)."""

    def __init__(self) -> None:
        self.open = True


def _encode(value: Any) -> bytes:
    encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    if len(encoded) > MAX_VALUE_BYTES:
        raise ValueError(f"a stored value is limited to {MAX_VALUE_BYTES} bytes of JSON")
    return encoded


def _declared(plugin: Plugin, name: str, per_subject: bool) -> None:
    if not any(s.name == name and s.per_subject is per_subject for s in plugin.manifest.stores):
        kind = "per-seeker" if per_subject else "shared"
        raise ValueError(f"{name!r} is not a {kind} store of the manifest of {plugin.name}")


def _live(purpose: str, legal_basis: str, now: datetime) -> ColumnElement[bool]:
    """True while the seeker is not erased and the purpose's basis holds: for a consent purpose, a
    live consent; for an unknown basis, never."""
    alive = subjects.c.erased_at.is_(None)
    if legal_basis == "consent":
        return and_(alive, exists().where(live_consent_clause(subjects.c.id, purpose, now)))
    if legal_basis in RELEASE_BASES:
        return alive
    return false()


class _Closable:
    """A store of one call: once the call is over it answers Revoked and holds nothing of the service."""

    _rt: Runtime
    _state: CallState

    def close(self) -> None:
        self._state.open = False
        self._rt = None  # type: ignore[assignment]

    def _open(self) -> None:
        if not self._state.open:
            raise Revoked("this context was for a call that has ended")


class PluginSubjectStore(_Closable):
    """plugins.api.SubjectStore for one call of one plugin under one purpose."""

    def __init__(self, rt: Runtime, plugin: Plugin, purpose: str | None, legal_basis: str, state: CallState) -> None:
        self._rt, self._plugin, self._purpose, self._basis, self._state = rt, plugin, purpose, legal_basis, state

    def put(self, pseudonym: str, name: str, value: Any) -> None:
        purpose = self._check(name)
        plaintext = _encode(value)
        now = self._rt.clock()
        with self._rt.transaction() as conn:
            subject_id, key = self._held(conn, pseudonym, purpose, now, lock=True)
            sealed = self._cipher(subject_id, key).seal(self._record(), f"{purpose}/{name}", plaintext)
            upsert(conn, plugin_subject_data, {"plugin": self._plugin.name, "subject_id": subject_id, "purpose": purpose,
                                               "name": name, "sealed": sealed, "updated_at": now},
                   keys=("plugin", "subject_id", "purpose", "name"), changes=("sealed", "updated_at"))

    def get(self, pseudonym: str, name: str) -> Any | None:
        purpose = self._check(name)
        with self._rt.engine.connect() as conn:
            try:
                subject_id, key = self._held(conn, pseudonym, purpose, self._rt.clock())
            except NotHeld:
                return None
            sealed = conn.execute(select(plugin_subject_data.c.sealed).where(self._entry(subject_id, purpose, name))).scalar()
        return None if sealed is None else json.loads(self._cipher(subject_id, key).open(self._record(), f"{purpose}/{name}", sealed))

    def delete(self, pseudonym: str, name: str | None = None) -> int:
        purpose = self._check(name)
        with self._rt.transaction() as conn:
            subject_id = conn.execute(select(plugin_holdings.c.subject_id).where(self._holding(pseudonym, purpose))).scalar()
            if subject_id is None:
                return 0
            condition = self._entry(subject_id, purpose, name)
            return int(conn.execute(delete(plugin_subject_data).where(condition)).rowcount or 0)

    def items(self, name: str) -> Iterator[tuple[str, Any]]:
        """(pseudonym, value) of every seeker whose entry ``name`` is live under the call's purpose."""
        purpose = self._check(name)
        now = self._rt.clock()
        query = (
            select(plugin_holdings.c.pseudonym, subjects.c.id, subjects.c.kek_version, subjects.c.wrapped_dek,
                   plugin_subject_data.c.sealed)
            .join(subjects, subjects.c.id == plugin_subject_data.c.subject_id)
            .join(plugin_holdings, and_(plugin_holdings.c.plugin == plugin_subject_data.c.plugin,
                                        plugin_holdings.c.subject_id == plugin_subject_data.c.subject_id,
                                        plugin_holdings.c.purpose == plugin_subject_data.c.purpose))
            .where(plugin_subject_data.c.plugin == self._plugin.name, plugin_subject_data.c.purpose == purpose,
                   plugin_subject_data.c.name == name, _live(purpose, self._basis, now))
            .order_by(plugin_holdings.c.pseudonym)
        )
        with self._rt.engine.connect() as conn:
            rows = conn.execute(query).all()
        for pseudonym, subject_id, version, wrapped, sealed in rows:
            self._check(name)  # the call may end while the plugin iterates
            cipher = self._cipher(subject_id, WrappedKey(version, wrapped))
            yield pseudonym, json.loads(cipher.open(self._record(), f"{purpose}/{name}", sealed))

    # -- internals ----------------------------------------------------------------------------

    def _check(self, name: str | None) -> str:
        self._open()
        if self._purpose is None:
            raise ValueError("this call is made under no purpose: it may keep nothing about a seeker")
        if name is not None:
            _declared(self._plugin, name, per_subject=True)
        return self._purpose

    def _record(self) -> str:
        return f"plugin:{self._plugin.name}"

    def _cipher(self, subject_id: str, key: WrappedKey) -> SubjectCipher:
        return self._rt.sealer.cipher(subject_id, key)

    def _holding(self, pseudonym: str, purpose: str) -> ColumnElement[bool]:
        return and_(plugin_holdings.c.plugin == self._plugin.name, plugin_holdings.c.pseudonym == pseudonym,
                    plugin_holdings.c.purpose == purpose)

    def _entry(self, subject_id: str, purpose: str, name: str | None) -> ColumnElement[bool]:
        condition = and_(plugin_subject_data.c.plugin == self._plugin.name, plugin_subject_data.c.subject_id == subject_id,
                         plugin_subject_data.c.purpose == purpose)
        return condition if name is None else and_(condition, plugin_subject_data.c.name == name)

    def _held(self, conn: Connection, pseudonym: str, purpose: str, now: datetime, lock: bool = False) -> tuple[str, WrappedKey]:
        """The subject the plugin holds under ``pseudonym`` and ``purpose``, if it is live now."""
        query = (
            select(subjects.c.id, subjects.c.kek_version, subjects.c.wrapped_dek)
            .join(plugin_holdings, plugin_holdings.c.subject_id == subjects.c.id)
            .where(self._holding(pseudonym, purpose), _live(purpose, self._basis, now))
        )
        if lock:
            # NOTE: a write first locks the subject's row for share, as a release does, then reads
            # the holding and the consent with a fresh snapshot: a withdrawal (which purges under an
            # update lock) is then either wholly before or wholly after, so no entry outlives it.
            subject_id = conn.execute(select(plugin_holdings.c.subject_id).where(self._holding(pseudonym, purpose))).scalar()
            if subject_id is None:
                raise NotHeld(pseudonym)
            lock_subject_for_share(conn, subject_id)
        row = conn.execute(query).first()
        if row is None or row.wrapped_dek is None:
            raise NotHeld(pseudonym)
        return row.id, WrappedKey(row.kek_version, row.wrapped_dek)


class PluginSharedStore(_Closable):
    """plugins.api.SharedStore of one plugin, for data that is about no seeker."""

    def __init__(self, rt: Runtime, plugin: Plugin, state: CallState) -> None:
        self._rt, self._plugin, self._state = rt, plugin, state

    def put(self, name: str, key: str, value: Any) -> None:
        self._check(name)
        if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH:
            raise ValueError(f"a shared key is a string of 1 to {MAX_KEY_LENGTH} characters")
        encoded = _encode(value).decode()
        with self._rt.transaction() as conn:
            upsert(conn, plugin_shared_data, {"plugin": self._plugin.name, "name": name, "key": key, "value": encoded,
                                              "updated_at": self._rt.clock()},
                   keys=("plugin", "name", "key"), changes=("value", "updated_at"))

    def get(self, name: str, key: str) -> Any | None:
        self._check(name)
        with self._rt.engine.connect() as conn:
            value = conn.execute(select(plugin_shared_data.c.value).where(self._entry(name, key))).scalar()
        return None if value is None else json.loads(value)

    def delete(self, name: str, key: str) -> bool:
        self._check(name)
        with self._rt.transaction() as conn:
            return bool(conn.execute(delete(plugin_shared_data).where(self._entry(name, key))).rowcount)

    def items(self, name: str) -> Iterator[tuple[str, Any]]:
        self._check(name)
        with self._rt.engine.connect() as conn:
            rows = conn.execute(
                select(plugin_shared_data.c.key, plugin_shared_data.c.value)
                .where(plugin_shared_data.c.plugin == self._plugin.name, plugin_shared_data.c.name == name)
                .order_by(plugin_shared_data.c.key)
            ).all()
        for key, value in rows:
            yield key, json.loads(value)

    def _check(self, name: str) -> None:
        self._open()
        _declared(self._plugin, name, per_subject=False)

    def _entry(self, name: str, key: str) -> ColumnElement[bool]:
        return and_(plugin_shared_data.c.plugin == self._plugin.name, plugin_shared_data.c.name == name,
                    plugin_shared_data.c.key == key)

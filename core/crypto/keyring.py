"""The embedded key provider: a keyring file in the instance folder (mode 0600).

The file holds every KEK version, the blind-index key and the key of plugins' pseudonyms. ``dossier keys rotate`` rewrites it
(atomically, under a lock) while workers keep serving; a worker that meets a KEK version it does
not know, or whose reload interval has passed, reads the file again, so reads never fail during
a rotation. ``dossier keys retire`` removes KEK versions that no data key is wrapped under any
more (core.crypto.rotation checks that first): the file is rewritten without them, and a worker
that reloads simply no longer has them (docs/erasure.md).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.crypto.interfaces import KeyProviderError
from core.files import file_lock, write_private_json

KEYRING_FORMAT = 1
NONCE_SIZE = 12


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class LocalKeyring:
    """KEKs in a local JSON file; implements core.crypto.interfaces.KeyProvider."""

    def __init__(self, path: Path, reload_interval: float = 2.0) -> None:
        self.path = path
        self._reload_interval = reload_interval
        self._lock = threading.Lock()
        self._keks: dict[int, AESGCM] = {}
        self._active = 0
        self._blind_key = b""
        self._pseudonym_key = b""
        self._webhook_key = b""
        self._mtime_ns = -1
        self._checked_at = 0.0
        self._load()

    # -- creation -------------------------------------------------------------------------

    @classmethod
    def create_if_missing(cls, path: Path) -> bool:
        """Write a new keyring with KEK version 1; False when one already exists."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            return False
        write_private_json(path, {
            "format": KEYRING_FORMAT,
            "active": 1,
            "keks": {"1": _b64(AESGCM.generate_key(bit_length=256))},
            "blind_index_key": _b64(secrets.token_bytes(32)),
            "pseudonym_key": _b64(secrets.token_bytes(32)),
            "webhook_key": _b64(secrets.token_bytes(32)),
        })
        return True

    @classmethod
    def add_missing_keys(cls, path: Path) -> list[str]:
        """Add the keys a keyring written by an earlier version lacks; return their names."""
        with file_lock(path):
            with path.open("r", encoding="utf-8") as fh:
                document = json.load(fh)
            added = [name for name in ("pseudonym_key", "webhook_key") if name not in document]
            for name in added:
                document[name] = _b64(secrets.token_bytes(32))
            if added:
                write_private_json(path, document)
        return added

    # -- KeyProvider ----------------------------------------------------------------------

    def active_version(self) -> int:
        self._maybe_reload()
        return self._active

    def wrap(self, dek: bytes, context: bytes) -> tuple[int, bytes]:
        self._maybe_reload()
        version = self._active
        nonce = os.urandom(NONCE_SIZE)
        return version, nonce + self._keks[version].encrypt(nonce, dek, _aad(version, context))

    def unwrap(self, version: int, wrapped: bytes, context: bytes) -> bytes:
        kek = self._keks.get(version)
        if kek is None:
            # A rotation in another process may have added this version since we loaded.
            self._load()
            kek = self._keks.get(version)
            if kek is None:
                raise KeyProviderError(f"unknown key-encryption key version {version} (never created, or retired)")
        try:
            return kek.decrypt(wrapped[:NONCE_SIZE], wrapped[NONCE_SIZE:], _aad(version, context))
        except Exception as exc:  # cryptography raises InvalidTag; any failure means no key
            raise KeyProviderError("data key does not unwrap") from exc

    def rotate(self) -> int:
        with file_lock(self.path):
            document = self._read()
            version = max(int(v) for v in document["keks"]) + 1
            document["keks"][str(version)] = _b64(AESGCM.generate_key(bit_length=256))
            document["active"] = version
            write_private_json(self.path, document)
        self._load()
        return version

    def versions(self) -> list[int]:
        self._maybe_reload()
        return sorted(self._keks)

    def retire(self, versions: Collection[int]) -> list[int]:
        with file_lock(self.path):
            document = self._read()
            if int(document["active"]) in versions:
                raise KeyProviderError("the active key-encryption key version cannot be retired")
            retired = sorted(v for v in versions if str(v) in document["keks"])
            for version in retired:
                # NOTE: the rewritten file holds no copy of these keys; copies of the file taken
                # before (backups, snapshots) are the operator's to destroy (docs/erasure.md).
                del document["keks"][str(version)]
            if retired:
                write_private_json(self.path, document)
        self._load()
        return retired

    def blind_index_key(self) -> bytes:
        return self._blind_key

    def pseudonym_key(self) -> bytes:
        if not self._pseudonym_key:
            raise KeyProviderError("the keyring has no pseudonym key; run `dossier init`")
        return self._pseudonym_key

    def webhook_key(self) -> bytes:
        self._maybe_reload()
        if not self._webhook_key:
            raise KeyProviderError("the keyring has no webhook key; run `dossier init`")
        return self._webhook_key

    def ping(self) -> None:
        if not self.path.is_file() or self._active not in self._keks:
            raise KeyProviderError("keyring unavailable")

    # -- internals ------------------------------------------------------------------------

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < self._reload_interval:
            return
        self._checked_at = now
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError as exc:
            raise KeyProviderError("keyring unavailable") from exc
        if mtime != self._mtime_ns:
            self._load()

    def _read(self) -> dict[str, Any]:
        try:
            with self.path.open("r", encoding="utf-8") as fh:
                document: dict[str, Any] = json.load(fh)
        except (OSError, ValueError) as exc:
            raise KeyProviderError(f"cannot read keyring {self.path.name}") from exc
        if document.get("format") != KEYRING_FORMAT:
            raise KeyProviderError(f"keyring {self.path.name}: unsupported format")
        return document

    def _load(self) -> None:
        with self._lock:
            stat = self.path.stat() if self.path.exists() else None
            document = self._read()
            self._keks = {int(v): AESGCM(base64.b64decode(k)) for v, k in document["keks"].items()}
            self._active = int(document["active"])
            self._blind_key = base64.b64decode(document["blind_index_key"])
            self._pseudonym_key = base64.b64decode(document.get("pseudonym_key", ""))
            self._webhook_key = base64.b64decode(document.get("webhook_key", ""))
            self._mtime_ns = stat.st_mtime_ns if stat else -1
            self._checked_at = time.monotonic()


def _aad(version: int, context: bytes) -> bytes:
    return b"dossier/dek/v1|" + str(version).encode() + b"|" + context


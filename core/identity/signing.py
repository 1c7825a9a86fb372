"""Signing keys (Ed25519) for access tokens, consent receipts, audit checkpoints, outbound webhooks and
evidence documents.

Each use has its own active key (docs/design.md); all public keys are published as one JWKS.
The keys live in ``signing-keys.json`` in the instance folder, mode 0600.

``dossier keys rotate-signing --use USE`` replaces the active key of one use. The old key is
retired: its private part is destroyed (the file is rewritten without it), its public part stays in
the file and in the JWKS, marked ``retired``, so that what it signed (receipts, checkpoints) still
verifies. A key verifies only what it is published for (``dossier_use``), and a retired token key
verifies nothing: tokens live minutes, so a rotation ends every session. Running workers read the
file again when it changes (at most every ``reload_interval`` seconds), as they do the keyring.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from joserfc.jwk import Key, KeySet, OKPKey

from core.files import file_lock, write_private_json
from core.models import iso_utc

SIGNING_ALGORITHM = "Ed25519"  # RFC 9864's fully specified name for EdDSA over Ed25519
ACTIVE, RETIRED = "active", "retired"


class KeyUse(StrEnum):
    TOKEN = "token"
    RECEIPT = "receipt"
    CHECKPOINT = "checkpoint"
    # Outbound webhooks (Standard Webhooks v1a): receivers verify with the keys of this use.
    WEBHOOK = "webhook"
    # Evidence documents (the attestation of active job search): its entries, signed as a JWS.
    EVIDENCE = "evidence"


# NOTE: what a retired key signed stays verifiable for these uses only. A token signed by a
# retired key is refused: it was short-lived, and its holder signs in again.
VERIFIED_AFTER_RETIREMENT = frozenset({KeyUse.RECEIPT, KeyUse.CHECKPOINT, KeyUse.EVIDENCE})


class SigningKeyError(Exception):
    """The signing-key file is missing or unreadable."""


@dataclass(frozen=True, slots=True)
class RetiredKey:
    """A key no longer used to sign: its public part, for verifying what it signed before."""

    use: KeyUse
    public: OKPKey
    retired_at: str


@dataclass(frozen=True, slots=True)
class SigningRotation:
    """What ``SigningKeys.rotate`` did: the new active key of ``use``, and the key it retired."""

    use: str
    kid: str
    retired_kid: str
    retired_at: str


@dataclass(frozen=True, slots=True)
class _Loaded:
    """One reading of the file; replaced whole when the file changes, so readers never see half."""

    active: dict[KeyUse, OKPKey]
    retired: list[RetiredKey]
    verifiers: dict[KeyUse, KeySet]
    jwks: dict[str, Any]
    mtime_ns: int


class SigningKeys:
    """The instance's signing keys: one active private key per use, and the retired public keys."""

    def __init__(self, path: Path, reload_interval: float = 2.0) -> None:
        self.path = path
        self._reload_interval = reload_interval
        self._lock = threading.Lock()
        self._generation = 0
        self._loaded = self._read()
        self._checked_at = time.monotonic()

    @staticmethod
    def create_missing(path: Path) -> list[KeyUse]:
        """Generate a key for every use that has no active one yet; return the uses generated."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(path):
            document: dict[str, Any] = {"keys": []}
            if path.exists():
                document = json.loads(path.read_text(encoding="utf-8"))
            present = {entry["use"] for entry in document["keys"] if _status(entry) == ACTIVE}
            created = [use for use in KeyUse if use.value not in present]
            for use in created:
                document["keys"].append(_new_entry(use))
            if created:
                write_private_json(path, document)
        return created

    # -- signing and verifying ------------------------------------------------------------

    def key(self, use: KeyUse) -> OKPKey:
        """The active private key of ``use``: what this instance signs with now."""
        return self._current().active[use]

    def public_keyset(self, use: KeyUse) -> KeySet:
        """The public keys that verify what this instance signed for ``use``: the active one and,
        for receipts and checkpoints, the retired ones (picked by the signature's ``kid``)."""
        return self._current().verifiers[use]

    def jwks(self) -> dict[str, Any]:
        """The public keys as a JWK Set, each with its ``kid``, ``alg``, ``dossier_use`` and
        ``dossier_status`` (``active``, or ``retired`` with ``retired_at``)."""
        return copy.deepcopy(self._current().jwks)

    def generation(self) -> int:
        """A number that changes whenever the keys do (a rotation, here or in another process)."""
        self._current()
        return self._generation

    # -- rotation -------------------------------------------------------------------------

    def rotate(self, use: KeyUse, now: datetime) -> SigningRotation:
        """Replace the active key of ``use`` with a new one; the old one is retired (its private
        part destroyed, its public part kept and published)."""
        retired_at = iso_utc(now)
        with file_lock(self.path):
            document = _read_document(self.path)
            found = [e for e in document["keys"] if e["use"] == use.value and _status(e) == ACTIVE]
            if len(found) != 1:
                raise SigningKeyError(f"{self.path.name} has no single active key for {use.value}; run `dossier init`")
            current = found[0]
            old = OKPKey.import_key(current["jwk"])
            # NOTE: the entry is replaced by the public part alone; the rewritten file keeps no
            # copy of the private key (copies of the file taken before are the operator's).
            current.clear()
            current.update({"use": use.value, "status": RETIRED, "retired_at": retired_at, "jwk": old.as_dict(private=False)})
            fresh = _new_entry(use)
            document["keys"].append(fresh)
            write_private_json(self.path, document)
        self._reload()
        return SigningRotation(use.value, str(fresh["jwk"]["kid"]), str(old.kid), retired_at)

    # -- internals ------------------------------------------------------------------------

    def _current(self) -> _Loaded:
        now = time.monotonic()
        if now - self._checked_at >= self._reload_interval:
            self._checked_at = now
            try:
                changed = self.path.stat().st_mtime_ns != self._loaded.mtime_ns
            except OSError:
                changed = False  # keep serving with the keys in memory; `dossier init` recreates the file
            if changed:
                self._reload()
        return self._loaded

    def _reload(self) -> None:
        with self._lock:
            self._loaded = self._read()
            self._generation += 1
            self._checked_at = time.monotonic()

    def _read(self) -> _Loaded:
        mtime_ns = self.path.stat().st_mtime_ns if self.path.exists() else -1
        document = _read_document(self.path)
        active: dict[KeyUse, OKPKey] = {}
        retired: list[RetiredKey] = []
        try:
            for entry in document["keys"]:
                use = KeyUse(entry["use"])
                if _status(entry) == RETIRED:
                    retired.append(RetiredKey(use, OKPKey.import_key(entry["jwk"]), str(entry["retired_at"])))
                else:
                    active[use] = OKPKey.import_key(entry["jwk"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SigningKeyError(f"{self.path.name} is not a signing-key file") from exc
        missing = [use.value for use in KeyUse if use not in active]
        if missing:
            raise SigningKeyError(f"{self.path.name} has no active key for {', '.join(missing)}; run `dossier init`")
        return _Loaded(active, retired, _verifiers(active, retired), _jwks(active, retired), mtime_ns)


def _read_document(path: Path) -> dict[str, Any]:
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SigningKeyError(f"cannot read {path.name}; run `dossier init`") from exc
    return document


def _status(entry: dict[str, Any]) -> str:
    # Files written before retirement existed have no status: every key in them is active.
    return str(entry.get("status", ACTIVE))


def _new_entry(use: KeyUse) -> dict[str, Any]:
    key = OKPKey.generate_key("Ed25519", auto_kid=True)
    return {"use": use.value, "jwk": key.as_dict(private=True)}


def _public(key: OKPKey) -> OKPKey:
    return OKPKey.import_key(key.as_dict(private=False))


def _verifiers(active: dict[KeyUse, OKPKey], retired: list[RetiredKey]) -> dict[KeyUse, KeySet]:
    verifiers = {}
    for use in KeyUse:
        keys: list[Key] = [_public(active[use])]
        if use in VERIFIED_AFTER_RETIREMENT:
            keys += [r.public for r in retired if r.use is use]
        verifiers[use] = KeySet(keys)
    return verifiers


def _jwks(active: dict[KeyUse, OKPKey], retired: list[RetiredKey]) -> dict[str, Any]:
    keys = [_published(key, use, {"dossier_status": ACTIVE}) for use, key in active.items()]
    keys += [_published(r.public, r.use, {"dossier_status": RETIRED, "retired_at": r.retired_at}) for r in retired]
    return {"keys": keys}


def _published(key: OKPKey, use: KeyUse, status: dict[str, str]) -> dict[str, Any]:
    public: dict[str, Any] = dict(key.as_dict(private=False))
    public.update({"use": "sig", "alg": SIGNING_ALGORITHM, "key_ops": ["verify"], "dossier_use": use.value, **status})
    return public

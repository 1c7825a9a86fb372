"""Signing keys (Ed25519) for access tokens, consent receipts and audit checkpoints.

Each use has its own key (docs/design.md); all public keys are published as one JWKS.
The private keys live in ``signing-keys.json`` in the instance folder, mode 0600.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

from joserfc.jwk import KeySet, OKPKey

from core.files import write_private_json

SIGNING_ALGORITHM = "Ed25519"  # RFC 9864's fully specified name for EdDSA over Ed25519


class KeyUse(StrEnum):
    TOKEN = "token"
    RECEIPT = "receipt"
    CHECKPOINT = "checkpoint"


class SigningKeyError(Exception):
    """The signing-key file is missing or unreadable."""


class SigningKeys:
    """The instance's private signing keys, one active key per use."""

    def __init__(self, path: Path) -> None:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SigningKeyError(f"cannot read {path.name}; run `dossier init`") from exc
        self._keys: dict[KeyUse, OKPKey] = {}
        for entry in document["keys"]:
            self._keys[KeyUse(entry["use"])] = OKPKey.import_key(entry["jwk"])
        self.verification_keys = KeySet([self._keys[KeyUse.TOKEN]])

    @staticmethod
    def create_missing(path: Path) -> list[KeyUse]:
        """Generate a key for every use that has none yet; return the uses generated."""
        document: dict[str, Any] = {"keys": []}
        if path.exists():
            document = json.loads(path.read_text(encoding="utf-8"))
        present = {entry["use"] for entry in document["keys"]}
        created = [use for use in KeyUse if use.value not in present]
        for use in created:
            key = OKPKey.generate_key("Ed25519", auto_kid=True)
            document["keys"].append({"use": use.value, "jwk": key.as_dict(private=True)})
        if created:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_private_json(path, document)
        return created

    def key(self, use: KeyUse) -> OKPKey:
        return self._keys[use]

    def public_keyset(self, use: KeyUse) -> KeySet:
        """The public key of ``use``, for verifying what this instance signed."""
        return KeySet([OKPKey.import_key(self._keys[use].as_dict(private=False))])

    def jwks(self) -> dict[str, Any]:
        """The public keys as a JWK Set, each with its ``kid``, ``use`` and ``alg``."""
        keys = []
        for use, key in self._keys.items():
            public = key.as_dict(private=False)
            public.update({"use": "sig", "alg": SIGNING_ALGORITHM, "key_ops": ["verify"], "dossier_use": use.value})
            keys.append(public)
        return {"keys": keys}

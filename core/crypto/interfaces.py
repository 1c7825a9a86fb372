"""What the core expects of a key provider (local keyring, Vault transit, a cloud KMS, an HSM)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol


class KeyProviderError(Exception):
    """The provider cannot wrap or unwrap (unknown version, corrupted key, provider down)."""


class KeyProvider(Protocol):
    """Wraps and unwraps data keys under versioned key-encryption keys.

    Implementations never hand out a KEK: only wrapped bytes leave them.
    """

    def active_version(self) -> int:
        """The KEK version that new wraps use."""
        ...

    def wrap(self, dek: bytes, context: bytes) -> tuple[int, bytes]:
        """Wrap ``dek`` under the active KEK; ``context`` is bound as associated data."""
        ...

    def unwrap(self, version: int, wrapped: bytes, context: bytes) -> bytes:
        """Unwrap bytes that ``wrap`` produced under KEK ``version``."""
        ...

    def rotate(self) -> int:
        """Create a new KEK version, make it active and return it; older versions stay usable until retired."""
        ...

    def versions(self) -> list[int]:
        """Every KEK version the provider still holds, the active one included."""
        ...

    def retire(self, versions: Collection[int]) -> list[int]:
        """Destroy these KEK versions (never the active one: KeyProviderError); return those destroyed.

        Whatever is still wrapped under them can never be unwrapped again: the caller checks first
        that nothing is (core.crypto.rotation.retire_keys).
        """
        ...

    def blind_index_key(self) -> bytes:
        """The HMAC key of blind indexes (separate from every KEK)."""
        ...

    def pseudonym_key(self) -> bytes:
        """The HMAC key from which each plugin's pseudonym key is derived (separate from the others)."""
        ...

    def webhook_key(self) -> bytes:
        """The HMAC key from which each webhook endpoint's signing secret is derived (separate from the others)."""
        ...

    def ping(self) -> None:
        """Raise KeyProviderError unless the provider can serve."""
        ...

"""Sealing dossier fields under the subject's data key (invariants 1 and 6).

Every sealed value is ``format byte || nonce || AES-256-GCM ciphertext and tag``; its associated
data binds it to (subject, record, field), so a ciphertext copied to another person, record or
field does not open. Unwrapped data keys are cached per (subject, wrapped key): once the wrapped
key is destroyed, no cache entry can be reached for it any more.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.crypto.interfaces import KeyProvider

FORMAT_V1 = b"\x01"
NONCE_SIZE = 12


class SealError(Exception):
    """A sealed value does not open: wrong subject, record or field, altered bytes, or no key."""


@dataclass(frozen=True)
class WrappedKey:
    """A subject's data key as stored: wrapped under KEK ``kek_version``."""

    kek_version: int
    wrapped: bytes


class SubjectCipher:
    """Seals and opens the fields of one subject."""

    __slots__ = ("_aead", "_subject")

    def __init__(self, subject_id: str, aead: AESGCM) -> None:
        self._subject = subject_id
        self._aead = aead

    def seal(self, record_id: str, field: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        return FORMAT_V1 + nonce + self._aead.encrypt(nonce, plaintext, self._aad(record_id, field))

    def open(self, record_id: str, field: str, sealed: bytes) -> bytes:
        return _opened(self._aead, self._aad(record_id, field), sealed)

    def _aad(self, record_id: str, field: str) -> bytes:
        return field_aad(self._subject, record_id, field)


def field_aad(subject_id: str, record_id: str, field: str) -> bytes:
    """The associated data of a sealed field: it opens for that subject, record and field only."""
    return f"dossier/field/v1|{subject_id}|{record_id}|{field}".encode()


def _opened(aead: AESGCM, aad: bytes, sealed: bytes) -> bytes:
    if sealed[:1] != FORMAT_V1:
        raise SealError("unknown sealed format")
    try:
        return aead.decrypt(sealed[1 : 1 + NONCE_SIZE], sealed[1 + NONCE_SIZE :], aad)
    except InvalidTag:
        raise SealError("sealed value does not open") from None


class Sealer:
    """Creates data keys and hands out ciphers for subjects, caching unwrapped keys."""

    def __init__(self, provider: KeyProvider, cache_size: int = 4096) -> None:
        self.provider = provider
        self._cipher = functools.lru_cache(maxsize=cache_size)(self._unwrapped_cipher)

    def new_data_key(self, subject_id: str) -> WrappedKey:
        """A fresh DEK for ``subject_id``, wrapped under the active KEK."""
        version, wrapped = self.provider.wrap(AESGCM.generate_key(bit_length=256), subject_id.encode())
        return WrappedKey(version, wrapped)

    def cipher(self, subject_id: str, key: WrappedKey) -> SubjectCipher:
        """The cipher of ``subject_id`` from its stored wrapped key."""
        return self._cipher(subject_id, key.kek_version, key.wrapped)

    def rewrap(self, subject_id: str, key: WrappedKey) -> WrappedKey:
        """The same DEK wrapped under the active KEK (KEK rotation; sealed data is untouched)."""
        dek = self.provider.unwrap(key.kek_version, key.wrapped, subject_id.encode())
        version, wrapped = self.provider.wrap(dek, subject_id.encode())
        return WrappedKey(version, wrapped)

    def feed_opener(self, record_id: str, field: str) -> Callable[[str, int, bytes, bytes], bytes]:
        """``open(subject_id, kek_version, wrapped, sealed)``: the plaintext of one field of
        ``record_id`` for each of many subjects, each met once (a plugin's change feed at start-up).

        NOTE: the data keys are unwrapped without the cache: a million distinct subjects would
        only push out the keys of the seekers being served meanwhile, and the cache's bookkeeping
        is a third of the cost of opening one field.
        """
        unwrap = self.provider.unwrap

        def open_(subject_id: str, kek_version: int, wrapped: bytes, sealed: bytes) -> bytes:
            return _opened(AESGCM(unwrap(kek_version, wrapped, subject_id.encode())), field_aad(subject_id, record_id, field), sealed)

        return open_

    def forget_data_keys(self) -> None:
        """Drop every cached data key (after an erasure; keys are unwrapped again on demand)."""
        self._cipher.cache_clear()

    def _unwrapped_cipher(self, subject_id: str, kek_version: int, wrapped: bytes) -> SubjectCipher:
        dek = self.provider.unwrap(kek_version, wrapped, subject_id.encode())
        return SubjectCipher(subject_id, AESGCM(dek))

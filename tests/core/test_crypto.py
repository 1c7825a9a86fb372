"""Sealing, key wrapping, blind indexes and the keyring (invariants 1 and 6)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from core.crypto.blind_index import IndexKind, blind_index
from core.crypto.interfaces import KeyProviderError
from core.crypto.keyring import LocalKeyring
from core.crypto.sealing import SealError, Sealer

A, B = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
R1, R2 = "33333333-3333-4333-8333-333333333333", "44444444-4444-4444-8444-444444444444"


@pytest.fixture
def keyring(tmp_path: Path) -> LocalKeyring:
    path = tmp_path / "keyring.json"
    assert LocalKeyring.create_if_missing(path)
    return LocalKeyring(path, reload_interval=0)


@pytest.fixture
def sealer(keyring: LocalKeyring) -> Sealer:
    return Sealer(keyring)


def test_keyring_file_is_private_and_not_overwritten(tmp_path: Path, keyring: LocalKeyring) -> None:
    mode = stat.S_IMODE(os.stat(keyring.path).st_mode)
    assert mode == 0o600
    before = keyring.path.read_bytes()
    assert not LocalKeyring.create_if_missing(keyring.path)
    assert keyring.path.read_bytes() == before


def test_sealed_value_opens_only_for_its_subject_record_and_field(sealer: Sealer) -> None:
    key_a, key_b = sealer.new_data_key(A), sealer.new_data_key(B)
    cipher_a, cipher_b = sealer.cipher(A, key_a), sealer.cipher(B, key_b)
    sealed = cipher_a.seal(R1, "name", b"Marker")
    assert cipher_a.open(R1, "name", sealed) == b"Marker"
    with pytest.raises(SealError):
        cipher_a.open(R1, "email", sealed)  # moved to another field
    with pytest.raises(SealError):
        cipher_a.open(R2, "name", sealed)  # moved to another record
    with pytest.raises(SealError):
        cipher_b.open(R1, "name", sealed)  # moved to another person


@pytest.mark.parametrize("position", ["format", "nonce", "ciphertext", "tag"])
def test_a_flipped_bit_anywhere_fails(sealer: Sealer, position: str) -> None:
    cipher = sealer.cipher(A, sealer.new_data_key(A))
    sealed = bytearray(cipher.seal(R1, "name", b"some value of a person"))
    index = {"format": 0, "nonce": 5, "ciphertext": 14, "tag": len(sealed) - 1}[position]
    sealed[index] ^= 0x01
    with pytest.raises(SealError):
        cipher.open(R1, "name", bytes(sealed))


def test_wrapped_key_is_bound_to_its_subject(sealer: Sealer) -> None:
    key_a = sealer.new_data_key(A)
    with pytest.raises(KeyProviderError):
        sealer.cipher(B, key_a)


def test_rotation_keeps_old_versions_readable_and_rewraps(keyring: LocalKeyring, sealer: Sealer) -> None:
    key = sealer.new_data_key(A)
    sealed = sealer.cipher(A, key).seal(R1, "f", b"v")
    assert keyring.rotate() == 2 and keyring.active_version() == 2
    rewrapped = sealer.rewrap(A, key)
    assert rewrapped.kek_version == 2 and rewrapped.wrapped != key.wrapped
    assert Sealer(keyring).cipher(A, rewrapped).open(R1, "f", sealed) == b"v"
    assert Sealer(keyring).cipher(A, key).open(R1, "f", sealed) == b"v"


def test_another_process_sees_a_rotation(keyring: LocalKeyring) -> None:
    other = LocalKeyring(keyring.path, reload_interval=0)
    version = keyring.rotate()
    wrapped_version, wrapped = keyring.wrap(b"k" * 32, b"ctx")
    assert other.unwrap(wrapped_version, wrapped, b"ctx") == b"k" * 32
    assert other.active_version() == version


def test_unknown_version_is_refused(keyring: LocalKeyring) -> None:
    version, wrapped = keyring.wrap(b"k" * 32, b"ctx")
    with pytest.raises(KeyProviderError):
        keyring.unwrap(version + 5, wrapped, b"ctx")


def test_a_retired_version_is_gone_for_every_process_and_the_active_one_stays(keyring: LocalKeyring) -> None:
    other = LocalKeyring(keyring.path, reload_interval=0)
    old_version, old = keyring.wrap(b"k" * 32, b"ctx")
    assert other.unwrap(old_version, old, b"ctx") == b"k" * 32
    version = keyring.rotate()
    with pytest.raises(KeyProviderError):
        keyring.retire([version])
    assert keyring.retire([old_version, 99]) == [old_version]
    assert str(old_version) not in json.loads(keyring.path.read_text())["keks"]
    assert stat.S_IMODE(os.stat(keyring.path).st_mode) == 0o600
    for provider in (keyring, other):
        assert provider.versions() == [version]
        with pytest.raises(KeyProviderError):
            provider.unwrap(old_version, old, b"ctx")
        provider.ping()
    assert keyring.retire([old_version]) == []


def test_keys_never_appear_in_wrapped_form(keyring: LocalKeyring) -> None:
    document = json.loads(keyring.path.read_text())
    _, wrapped = keyring.wrap(b"D" * 32, b"ctx")
    assert b"D" * 32 not in wrapped
    assert document["format"] == 1


def test_blind_index_is_keyed_and_normalised(keyring: LocalKeyring) -> None:
    key = keyring.blind_index_key()
    assert blind_index(key, IndexKind.NATIONAL_ID, "85.07.30-033.28") == blind_index(key, IndexKind.NATIONAL_ID, "85073003328")
    assert blind_index(key, IndexKind.EMAIL, " Zoe@Example.org") == blind_index(key, IndexKind.EMAIL, "zoe@example.org")
    assert blind_index(key, IndexKind.EMAIL, "zoe@example.org") != blind_index(b"x" * 32, IndexKind.EMAIL, "zoe@example.org")
    assert blind_index(key, IndexKind.EMAIL, "1") != blind_index(key, IndexKind.NATIONAL_ID, "1")

"""C2SP signed notes, transparency-log checkpoints and Ed25519 witness cosignatures (cosignature/v1).

Why: a checkpoint written as a C2SP ``tlog-checkpoint`` and signed as a C2SP ``signed-note`` is what
the rest of the transparency-log world reads (Go's checksum database, Sigsum, the transparency-dev
witnesses). Publishing the audit log's checkpoints in that form lets independent witnesses cosign
them, so that an auditor can tell that everyone is shown the same log, which a signature only this
service's own verifier understands cannot give.

``audit/verifier.py`` imports this module and auditors read both whole, so it uses only the
standard library and ``cryptography`` and imports nothing of the service. It is strict on purpose:
anything that is not exactly the format is refused with a ``NoteError`` saying what is wrong,
because a verifier that is lenient about the bytes it checks is one an attacker can steer.

The specifications, cited by section in the comments below:

- c2sp.org/signed-note: the note text and its signature lines, key IDs, Ed25519 signatures;
- c2sp.org/tlog-checkpoint: the checkpoint text (origin, tree size, root hash, extension lines);
- c2sp.org/tlog-cosignature: cosignature/v1, the timestamped Ed25519 cosignature (type 0x04);
- golang.org/x/mod/sumdb/note, the reference implementation, for what the specifications leave
  open (the signature limit, the vkey text form ``<name>+<hex key ID>+<base64(type || key)>``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "MAX_SIGNATURES", "SIG_COSIGNATURE_V1", "SIG_ED25519",
    "Checkpoint", "CheckpointError", "Note", "NoteError", "NoteSignature", "SignatureError", "VerifiedNote",
    "VerifiedSignature", "Verifier", "VerifierKeyError",
    "add_signature", "checkpoint_body", "cosignature_message", "cosignature_timestamp", "key_hash", "parse_checkpoint",
    "parse_note", "parse_signature_line", "parse_vkey", "sign_cosignature", "sign_note", "signature_line",
    "verify_cosignature", "verify_note", "vkey",
]

# c2sp.org/signed-note "Signature types": the byte hashed into the key ID says how a key signs.
SIG_ED25519 = 0x01  # "Ed25519 signatures as specified by this document"
SIG_COSIGNATURE_V1 = 0x04  # "Timestamped Ed25519 witness cosignatures, as specified by c2sp.org/tlog-cosignature"
_SUPPORTED_TYPES = {SIG_ED25519: "Ed25519", SIG_COSIGNATURE_V1: "cosignature/v1"}

# c2sp.org/signed-note "Format": each signature line starts with an em dash (U+2014) and a space.
SIGNATURE_PREFIX = "\u2014 "
# c2sp.org/signed-note "Format": verifiers SHOULD limit the number of signatures and MUST accept at
# least 16; golang.org/x/mod/sumdb/note (Open) refuses more than 100, and so does this module.
MAX_SIGNATURES = 100

KEY_HASH_SIZE = 4  # c2sp.org/signed-note "Format": "The first four bytes ... are the uint32 key ID"
PUBLIC_KEY_SIZE = 32  # c2sp.org/signed-note "Ed25519 signatures": "encoded as 32 bytes according to RFC 8032"
ED25519_SIGNATURE_SIZE = 64  # RFC 8032 section 5.1.6
ROOT_HASH_SIZE = 32  # tlog-checkpoint "Note text": the root of the RFC 6962 (SHA-256) tree
TIMESTAMP_SIZE = 8  # c2sp.org/tlog-cosignature "Format": u64 timestamp, big-endian
MAX_TIMESTAMP = 2**63 - 1  # c2sp.org/tlog-cosignature "Format": the timestamp "MUST NOT exceed 2^63 - 1"
MAX_TREE_SIZE = 2**64 - 1  # what the reference implementations hold a tree size in (uint64)

# c2sp.org/signed-note "Format": no ASCII control characters (below U+0020) other than newline.
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")
_DECIMAL = re.compile("0|[1-9][0-9]*")  # ASCII only: str.isdigit and \d would take other scripts' digits
_HEX8 = re.compile("[0-9a-fA-F]{8}")


# -- errors ---------------------------------------------------------------------------------------


class NoteError(ValueError):
    """A note, a signature line, a verifier key or a checkpoint is not exactly in its format."""


class VerifierKeyError(NoteError):
    """A verifier key (vkey) is malformed, of an unsupported type, or does not match its key ID."""


class CheckpointError(NoteError):
    """A checkpoint text is not exactly the c2sp.org/tlog-checkpoint format."""


class SignatureError(NoteError):
    """The text is well formed, but a signature does not verify or no trusted key signed it."""


# -- text checks ----------------------------------------------------------------------------------


def _utf8(text: str, what: str, error: type[NoteError] = NoteError) -> bytes:
    """``text`` as UTF-8, refused if it holds a control character (c2sp.org/signed-note "Format")."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise error(f"{what} is not valid UTF-8 (it holds a lone surrogate)") from None
    control = _CONTROL.search(text)
    if control:
        raise error(f"{what} holds the control character U+{ord(control.group()):04X} at offset {control.start()}: "
                    "only newline is allowed")
    return data


def _decode_utf8(data: bytes, what: str, error: type[NoteError] = NoteError) -> str:
    """``data`` decoded as strict UTF-8: the specifications require valid UTF-8, so bad bytes are refused."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not valid UTF-8 (byte {exc.start})") from None


def _check_name(name: str, what: str = "the key name", error: type[NoteError] = NoteError) -> None:
    """Refuse a name a signature line or a vkey could not carry unambiguously.

    c2sp.org/signed-note "Format": "Key names MUST be non-empty and MUST NOT contain any Unicode
    spaces or plus (U+002B) characters." A space would end the name in a signature line, a plus
    would end it in a vkey.
    """
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, not {type(name).__name__}")
    if not name:
        raise error(f"{what} is empty")
    if "+" in name:
        raise error(f"{what} {name!r} contains a plus sign (U+002B)")
    space = next((c for c in name if c.isspace()), None)
    if space is not None:
        raise error(f"{what} {name!r} contains the space U+{ord(space):04X}")
    _utf8(name, what, error)


def _b64decode(text: str, what: str, error: type[NoteError] = NoteError) -> bytes:
    """Standard, padded base64 (RFC 4648 section 4, as every C2SP spec says), in its one canonical spelling.

    Python's decoder, like Go's, also takes non-zero padding bits ("AB==" for "AA=="); requiring the
    text to be exactly the encoding of what it decodes to leaves one spelling for each value.
    """
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise error(f"{what} is not standard padded base64: {text!r}") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise error(f"{what} is not in canonical base64 (non-zero padding bits): {text!r}")
    return data


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _raw_public_key(public_key: bytes | Ed25519PublicKey, error: type[NoteError] = NoteError) -> bytes:
    """The 32-byte RFC 8032 encoding of an Ed25519 public key given either way."""
    if isinstance(public_key, Ed25519PublicKey):
        return public_key.public_bytes_raw()
    if not isinstance(public_key, bytes):
        raise TypeError(f"a public key is bytes or an Ed25519PublicKey, not {type(public_key).__name__}")
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise error(f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes, not {len(public_key)}")
    return public_key


def _check_timestamp(timestamp: int) -> None:
    # c2sp.org/tlog-cosignature "Format": a POSIX timestamp that "MUST NOT exceed 2^63 - 1".
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError(f"a cosignature timestamp is an int, not {type(timestamp).__name__}")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise SignatureError(f"a cosignature timestamp is between 0 and 2^63 - 1, not {timestamp}")


# -- keys -----------------------------------------------------------------------------------------


def key_hash(name: str, public_key: bytes | Ed25519PublicKey, sig_type: int = SIG_ED25519) -> bytes:
    """The 4-byte key ID that names a key in a signature line and a vkey.

    c2sp.org/signed-note "Signatures": ``SHA-256(key name || 0x0A || signature type || public key)[:4]``.
    The type byte makes the same Ed25519 key a different key ID as a log key (0x01) and as a
    witness key (0x04, c2sp.org/tlog-cosignature "Format"), so a signature of one kind is never
    checked as the other. The ID only picks the key: the signature is what is verified.
    """
    _check_name(name)
    if isinstance(sig_type, bool) or not isinstance(sig_type, int) or not 0 <= sig_type <= 0xFF:
        raise NoteError(f"a signature type is one byte, not {sig_type!r}")
    if sig_type in _SUPPORTED_TYPES or isinstance(public_key, Ed25519PublicKey):
        key = _raw_public_key(public_key)
    elif isinstance(public_key, bytes):
        key = public_key  # another type's key encoding: the spec's formula still applies
    else:
        raise TypeError(f"a public key is bytes or an Ed25519PublicKey, not {type(public_key).__name__}")
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + key).digest()[:KEY_HASH_SIZE]


class Verifier(NamedTuple):
    """A trusted public key, as a verifier is configured with it.

    c2sp.org/signed-note "Signatures": the (key name, key ID) tuple picks the key that signed a line.
    ``sig_type`` says how it signs: ``SIG_ED25519`` over the note text, or ``SIG_COSIGNATURE_V1``
    over the cosignature/v1 message (c2sp.org/tlog-cosignature).
    """

    name: str
    key_hash: bytes
    public_key: bytes
    sig_type: int = SIG_ED25519

    @classmethod
    def for_key(cls, name: str, public_key: bytes | Ed25519PublicKey, sig_type: int = SIG_ED25519) -> Verifier:
        """The verifier of ``public_key`` under ``name``, its key ID computed (not taken on trust)."""
        if sig_type not in _SUPPORTED_TYPES:
            raise VerifierKeyError(f"signature type 0x{sig_type:02x} is not supported: only 0x01 (Ed25519) and 0x04 (cosignature/v1)")
        _check_name(name, error=VerifierKeyError)
        raw = _raw_public_key(public_key, VerifierKeyError)
        return cls(name, key_hash(name, raw, sig_type), raw, sig_type)

    def to_vkey(self) -> str:
        """This key in the vkey text form, to publish or to configure a verifier with."""
        return vkey(self.name, self.public_key, self.sig_type)

    def check(self, body: bytes, signature: bytes) -> int | None:
        """Verify ``signature`` (the bytes after the key ID) over the note text ``body``.

        Returns the cosignature's timestamp for a cosignature/v1 key, None for an Ed25519 key;
        raises SignatureError when it does not verify.
        """
        label = f"{self.name}+{self.key_hash.hex()}"
        timestamp: int | None = None
        if self.sig_type == SIG_ED25519:
            # c2sp.org/signed-note "Ed25519 signatures": RFC 8032 Ed25519 over the note text.
            message, ed25519_signature = body, signature
        elif self.sig_type == SIG_COSIGNATURE_V1:
            timestamp = cosignature_timestamp(signature)
            message, ed25519_signature = cosignature_message(body, timestamp), signature[TIMESTAMP_SIZE:]
        else:
            raise VerifierKeyError(f"signature type 0x{self.sig_type:02x} of {label} is not supported")
        if len(ed25519_signature) != ED25519_SIGNATURE_SIZE:
            raise SignatureError(f"the signature by {label} holds {len(ed25519_signature)} bytes of Ed25519 signature, "
                                 f"not {ED25519_SIGNATURE_SIZE}")
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(ed25519_signature, message)
        except InvalidSignature:
            raise SignatureError(f"the signature by {label} does not verify: the text was altered, "
                                 "or another key signed it") from None
        except ValueError as exc:
            raise VerifierKeyError(f"the public key of {label} is not an Ed25519 key: {exc}") from None
        return timestamp


def vkey(name: str, public_key: bytes | Ed25519PublicKey, sig_type: int = SIG_ED25519) -> str:
    """The verifier key text ``<name>+<hex key ID>+<base64(type || public key)>``.

    The form of golang.org/x/mod/sumdb/note (NewVerifier, NewEd25519VerifierKey), which
    c2sp.org/tlog-cosignature "Format" also uses for witness keys (type 0x04): the one line an
    auditor copies to trust a log or a witness.
    """
    v = Verifier.for_key(name, public_key, sig_type)
    return f"{v.name}+{v.key_hash.hex()}+{_b64encode(bytes([v.sig_type]) + v.public_key)}"


def parse_vkey(text: str) -> Verifier:
    """The trusted key a vkey names: (name, key_hash, public_key, sig_type), for Ed25519 and cosignature/v1 keys.

    Checked as golang.org/x/mod/sumdb/note NewVerifier does: a valid name, exactly 8 hex digits,
    base64 of a known type byte and a 32-byte key, and a key ID equal to the one computed from
    them (a vkey whose ID does not match was mistyped or tampered with).
    """
    if not isinstance(text, str):
        raise TypeError(f"a vkey is a str, not {type(text).__name__}")
    # The name holds no plus sign and the key ID none, so the first two plus signs split the
    # three fields; the base64 after them may hold more.
    name, plus1, rest = text.partition("+")
    hash_hex, plus2, key64 = rest.partition("+")
    if not plus1 or not plus2:
        raise VerifierKeyError(f"a vkey is <name>+<hex key ID>+<base64 key>, and {text!r} has fewer than three fields")
    _check_name(name, "the vkey's name", VerifierKeyError)
    if not _HEX8.fullmatch(hash_hex):
        raise VerifierKeyError(f"the key ID of vkey {name!r} is 8 hex digits, not {hash_hex!r}")
    data = _b64decode(key64, f"the key of vkey {name!r}", VerifierKeyError)
    if not data:
        raise VerifierKeyError(f"the key of vkey {name!r} is empty")
    sig_type, public_key = data[0], data[1:]
    if sig_type not in _SUPPORTED_TYPES:
        raise VerifierKeyError(f"vkey {name!r} is of signature type 0x{sig_type:02x}: only 0x01 (Ed25519) and "
                               "0x04 (cosignature/v1) are supported")
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise VerifierKeyError(f"the key of vkey {name!r} is {len(public_key)} bytes, not the {PUBLIC_KEY_SIZE} of Ed25519")
    expected = key_hash(name, public_key, sig_type)
    if bytes.fromhex(hash_hex) != expected:
        raise VerifierKeyError(f"vkey {name!r} says key ID {hash_hex.lower()}, but its name and key give {expected.hex()}")
    return Verifier(name, expected, public_key, sig_type)


# -- signature lines and notes --------------------------------------------------------------------


class NoteSignature(NamedTuple):
    """One signature line of a note: who claims to have signed, and the bytes, not yet verified."""

    name: str
    key_hash: bytes
    signature: bytes  # what follows the key ID: the algorithm's signature (for 0x04, timestamp || Ed25519)

    @property
    def line(self) -> str:
        """The line as it stands in a note, ending with its newline."""
        return signature_line(self.name, self.key_hash, self.signature)


def signature_line(name: str, key_id: bytes, signature: bytes) -> str:
    """``— <name> <base64(key ID || signature)>`` and a newline (c2sp.org/signed-note "Format")."""
    _check_name(name)
    if len(key_id) != KEY_HASH_SIZE:
        raise NoteError(f"a key ID is {KEY_HASH_SIZE} bytes, not {len(key_id)}")
    if not signature:
        raise NoteError("a signature holds at least one byte after the key ID")
    return f"{SIGNATURE_PREFIX}{name} {_b64encode(key_id + signature)}\n"


def parse_signature_line(line: str) -> NoteSignature:
    """One signature line (its final newline optional), checked but not verified.

    c2sp.org/signed-note "Format": em dash (U+2014), space, key name, space, base64 signature; the
    signature is "the base64 encoding of 4+n bytes", the key ID first.
    """
    if line.endswith("\n"):
        line = line[:-1]
    if "\n" in line:
        raise NoteError("a signature line holds a newline before its end")
    _utf8(line, "a signature line")
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError(f"signature line {line[:40]!r} does not start with an em dash (U+2014) and a space")
    name, space, encoded = line[len(SIGNATURE_PREFIX):].partition(" ")
    if not space:
        raise NoteError(f"signature line {line[:40]!r} has no space between the key name and the signature")
    _check_name(name, "the key name of a signature line")
    data = _b64decode(encoded, f"the signature by {name!r}")
    if len(data) <= KEY_HASH_SIZE:
        raise NoteError(f"the signature by {name!r} is {len(data)} bytes: a 4-byte key ID and at least one byte of signature")
    return NoteSignature(name, data[:KEY_HASH_SIZE], data[KEY_HASH_SIZE:])


@dataclass(frozen=True)
class Note:
    """A parsed note: the signed text and its signature lines, none of them verified yet."""

    body: bytes  # the note text, final newline included, blank line excluded: what is signed
    signatures: tuple[NoteSignature, ...]

    @property
    def text(self) -> str:
        """The whole note again: text, blank line, signature lines."""
        return self.body.decode("utf-8") + "\n" + "".join(s.line for s in self.signatures)


def _body_text(body: bytes, what: str = "the note text") -> str:
    """``body`` as note text, refused unless it can be signed: UTF-8, no control character, ends with a newline."""
    if not isinstance(body, bytes):
        raise TypeError(f"{what} is bytes, not {type(body).__name__}")
    text = _decode_utf8(body, what)
    _utf8(text, what)
    # c2sp.org/signed-note "Format": "a text ending in newline (U+000A)".
    if not text.endswith("\n"):
        raise NoteError(f"{what} does not end with a newline")
    return text


def parse_note(text: str | bytes) -> Note:
    """Split a signed note into its text and its signature lines, refusing anything malformed.

    c2sp.org/signed-note "Format": valid UTF-8 with no control character but newline; a text ending
    in newline, a blank line, then one or more signature lines each ending in newline; "the text is
    separated from the signatures by the last empty line in the note". Bytes are decoded as strict
    UTF-8 first. Nothing is verified here: see ``verify_note``.
    """
    if isinstance(text, bytes):
        text = _decode_utf8(text, "the note")
    elif not isinstance(text, str):
        raise TypeError(f"a note is str or bytes, not {type(text).__name__}")
    _utf8(text, "the note")
    split = text.rfind("\n\n")
    if split < 0:
        raise NoteError("the note has no blank line between its text and its signatures")
    body, block = text[:split + 1], text[split + 2:]
    if not block:
        raise NoteError("the note has no signature line after its blank line")
    if not block.endswith("\n"):
        raise NoteError("the note's last signature line does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the note has {len(lines)} signature lines, more than the {MAX_SIGNATURES} accepted")
    return Note(body.encode("utf-8"), tuple(parse_signature_line(line) for line in lines))


def sign_note(body: bytes, name: str, private_key: Ed25519PrivateKey) -> str:
    """The whole signed note: ``body``, a blank line, and ``name``'s Ed25519 signature line.

    c2sp.org/signed-note "Ed25519 signatures": an RFC 8032 signature over the note text (the body,
    its final newline included), prefixed with the type 0x01 key ID. Ed25519 is deterministic, so
    the same key and body always give the same note.
    """
    text = _body_text(body)
    line = signature_line(name, key_hash(name, private_key.public_key(), SIG_ED25519), private_key.sign(body))
    return text + "\n" + line


def add_signature(note: str, line: str) -> str:
    """``note`` with the signature line ``line`` added at the end (a witness's cosignature, a second key).

    As golang.org/x/mod/sumdb/note Sign does, an existing signature by the same key (same name and
    key ID) is replaced, so that re-cosigning at a later time leaves one line per key. The new line
    is checked for form only: whoever trusts the key verifies it.
    """
    parsed = parse_note(note)
    new = parse_signature_line(line)
    kept = tuple(s for s in parsed.signatures if (s.name, s.key_hash) != (new.name, new.key_hash))
    if len(kept) + 1 > MAX_SIGNATURES:
        raise NoteError(f"a note holds at most {MAX_SIGNATURES} signature lines")
    return Note(parsed.body, (*kept, new)).text


class VerifiedSignature(NamedTuple):
    """A signature that verified: by which trusted key, and for a cosignature, at what time."""

    verifier: Verifier
    timestamp: int | None  # the cosignature/v1 time (POSIX seconds), None for an Ed25519 signature


@dataclass(frozen=True)
class VerifiedNote:
    """A note at least one trusted key signed: its text, who signed it, and what was ignored."""

    body: bytes
    signers: tuple[VerifiedSignature, ...]  # in the note's order, one per key
    ignored: tuple[NoteSignature, ...]  # by keys not trusted here: not verified, and proving nothing

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the keys whose signature verified."""
        return tuple(s.verifier.name for s in self.signers)


def _index(verifiers: Iterable[Verifier]) -> dict[tuple[str, bytes], Verifier]:
    """The trusted keys by (name, key ID); two different keys with the same pair are refused."""
    known: dict[tuple[str, bytes], Verifier] = {}
    for v in verifiers:
        if not isinstance(v, Verifier):
            raise TypeError(f"a verifier is a Verifier (see parse_vkey), not {type(v).__name__}")
        other = known.setdefault((v.name, v.key_hash), v)
        if other != v:
            # golang.org/x/mod/sumdb/note reports this as an "ambiguous key": whoever wrote the list
            # can no longer say which key a signature line means.
            raise VerifierKeyError(f"two different trusted keys are named {v.name}+{v.key_hash.hex()}")
    return known


def verify_note(text: str | bytes, verifiers: Iterable[Verifier]) -> VerifiedNote:
    """The note's text and the trusted keys that signed it; SignatureError unless one of them did.

    c2sp.org/signed-note "Signatures": signatures by unknown keys are ignored, "even if they share a
    name or ID (but not both) with a known key" (they stay in ``ignored``); a signature whose name
    and ID match a known key is verified, and if it fails the whole note is rejected (the spec says
    SHOULD, golang.org/x/mod/sumdb/note does so too); if no signature by a known key verifies, the
    note is rejected (MUST). A key's cosignature/v1 signatures are checked as such
    (c2sp.org/tlog-cosignature), and their times returned.
    """
    note = parse_note(text)
    known = _index(verifiers)
    signers: dict[tuple[str, bytes], VerifiedSignature] = {}
    ignored: list[NoteSignature] = []
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_hash))
        if verifier is None:
            ignored.append(sig)
            continue
        timestamp = verifier.check(note.body, sig.signature)
        signers.setdefault((sig.name, sig.key_hash), VerifiedSignature(verifier, timestamp))
    if not signers:
        present = ", ".join(f"{s.name}+{s.key_hash.hex()}" for s in note.signatures)
        raise SignatureError(f"no trusted key signed the note (it is signed by {present})")
    return VerifiedNote(note.body, tuple(signers.values()), tuple(ignored))


# -- checkpoints ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: which log, how many leaves, the RFC 9162 root over them."""

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def to_body(self) -> bytes:
        """The checkpoint text, to sign as a note."""
        return checkpoint_body(self.origin, self.tree_size, self.root_hash, self.extensions)


def _check_line(line: str, what: str) -> None:
    if not isinstance(line, str):
        raise TypeError(f"{what} is a str, not {type(line).__name__}")
    if not line:
        raise CheckpointError(f"{what} is empty")
    if "\n" in line:
        raise CheckpointError(f"{what} holds a newline")
    _utf8(line, what, CheckpointError)


def checkpoint_body(origin: str, tree_size: int, root_hash: bytes, extensions: Sequence[str] = ()) -> bytes:
    """The checkpoint text: origin, tree size, base64 root hash, any extension lines, each ending in newline.

    c2sp.org/tlog-checkpoint "Note text". The origin SHOULD be a schema-less URL without spaces or
    plus signs and match the log's key name ("Signatures"); that is the caller's choice, only what
    the format forbids is refused here.
    """
    _check_line(origin, "the checkpoint's origin")
    if isinstance(tree_size, bool) or not isinstance(tree_size, int):
        raise TypeError(f"a tree size is an int, not {type(tree_size).__name__}")
    if not 0 <= tree_size <= MAX_TREE_SIZE:
        raise CheckpointError(f"a tree size is between 0 and 2^64 - 1, not {tree_size}")
    if not isinstance(root_hash, bytes) or len(root_hash) != ROOT_HASH_SIZE:
        raise CheckpointError(f"a root hash is {ROOT_HASH_SIZE} bytes (SHA-256), not {len(root_hash)}")
    if isinstance(extensions, str):
        raise TypeError("extensions is a sequence of lines, not one str")
    for i, line in enumerate(extensions):
        _check_line(line, f"extension line {i + 1}")
    lines = [origin, str(tree_size), _b64encode(root_hash), *extensions]
    return "".join(line + "\n" for line in lines).encode("utf-8")


def parse_checkpoint(body: bytes) -> Checkpoint:
    """The checkpoint a note text holds, refusing anything but the exact format.

    c2sp.org/tlog-checkpoint "Note text": at least three non-empty lines, each ending in newline:
    the origin; the tree size in ASCII decimal "with no leading zeroes" (so no sign, no space, and
    ``0`` only for the empty tree); the base64 root hash of the RFC 6962 tree (32 bytes, SHA-256);
    then optional extension lines, which "MUST be non-empty".
    """
    if not isinstance(body, bytes):
        raise TypeError(f"a checkpoint text is bytes, not {type(body).__name__}")
    text = _decode_utf8(body, "the checkpoint", CheckpointError)
    _utf8(text, "the checkpoint", CheckpointError)
    if not text.endswith("\n"):
        raise CheckpointError("the checkpoint's last line does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(f"a checkpoint has at least 3 lines (origin, tree size, root hash), not {len(lines)}")
    origin, size, root, *extensions = lines
    if not origin:
        raise CheckpointError("the checkpoint's origin line is empty")
    if not _DECIMAL.fullmatch(size):
        raise CheckpointError(f"the checkpoint's tree size {size!r} is not a decimal number without sign or leading zeros")
    tree_size = int(size)
    if tree_size > MAX_TREE_SIZE:
        raise CheckpointError(f"the checkpoint's tree size {size} is larger than 2^64 - 1")
    root_hash = _b64decode(root, "the checkpoint's root hash", CheckpointError)
    if len(root_hash) != ROOT_HASH_SIZE:
        raise CheckpointError(f"the checkpoint's root hash is {len(root_hash)} bytes, not {ROOT_HASH_SIZE} (SHA-256)")
    for i, line in enumerate(extensions):
        if not line:
            raise CheckpointError(f"extension line {i + 1} of the checkpoint is empty")
    return Checkpoint(origin, tree_size, root_hash, tuple(extensions))


# -- cosignature/v1 -------------------------------------------------------------------------------


def cosignature_message(body: bytes, timestamp: int) -> bytes:
    """What a witness's cosignature/v1 Ed25519 signature is over: the header, the time, the checkpoint.

    c2sp.org/tlog-cosignature "Ed25519 signed message": ``cosignature/v1``, ``time <timestamp>``
    (ASCII decimal, no leading zeros) each ending in newline, then "the whole note body of the
    cosigned checkpoint". The header keeps a cosignature from being taken for a signature of
    anything else, the time makes it a statement of what the witness had seen by then.
    """
    parse_checkpoint(body)  # the message is defined over a checkpoint, so anything else is refused
    _check_timestamp(timestamp)
    return b"cosignature/v1\ntime %d\n" % timestamp + body


def cosignature_timestamp(signature: NoteSignature | bytes) -> int:
    """The time a cosignature/v1 signature claims, NOT verified: to sort or show, never to trust.

    c2sp.org/tlog-cosignature "Format": the signature is a ``timestamped_signature``, a big-endian
    u64 timestamp followed by the 64-byte Ed25519 signature. ``signature`` is the parsed line or the
    bytes after its key ID.
    """
    data = signature.signature if isinstance(signature, NoteSignature) else signature
    if len(data) != TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE:
        raise SignatureError(f"a cosignature/v1 signature is {TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE} bytes after the key ID "
                             f"(timestamp and Ed25519 signature), not {len(data)}")
    timestamp = int.from_bytes(data[:TIMESTAMP_SIZE], "big")
    if timestamp > MAX_TIMESTAMP:
        raise SignatureError(f"the cosignature's timestamp {timestamp} exceeds 2^63 - 1")
    return timestamp


def sign_cosignature(body: bytes, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """A witness's cosignature/v1 signature line over the checkpoint ``body`` at ``timestamp``, with its newline.

    c2sp.org/tlog-cosignature "Format": the key ID is of type 0x04, the signature is the 8-byte
    big-endian timestamp followed by the Ed25519 signature of ``cosignature_message``. Append it to
    the note with ``add_signature``.
    """
    message = cosignature_message(body, timestamp)
    signature = timestamp.to_bytes(TIMESTAMP_SIZE, "big") + private_key.sign(message)
    return signature_line(name, key_hash(name, private_key.public_key(), SIG_COSIGNATURE_V1), signature)


def verify_cosignature(body: bytes, line_or_parsed: str | NoteSignature, witness_public_key: bytes | Ed25519PublicKey,
                       witness_name: str, *, not_after: int | None = None) -> int:
    """The time at which the witness ``witness_name`` cosigned the checkpoint ``body``; SignatureError if it did not.

    c2sp.org/tlog-cosignature: the line must carry the witness's name and its type 0x04 key ID
    (SHA-256(name || "\\n" || 0x04 || key)[:4]), and the Ed25519 signature must verify over
    ``cosignature_message(body, timestamp)``. Verifiers "MAY reject cosignatures with timestamps in
    the future": pass ``not_after`` (POSIX seconds, e.g. now plus a clock skew) to do so.
    """
    sig = parse_signature_line(line_or_parsed) if isinstance(line_or_parsed, str) else line_or_parsed
    witness = Verifier.for_key(witness_name, witness_public_key, SIG_COSIGNATURE_V1)
    if sig.name != witness.name:
        raise SignatureError(f"the cosignature is by {sig.name!r}, not by the witness {witness.name!r}")
    if sig.key_hash != witness.key_hash:
        raise SignatureError(f"the cosignature's key ID {sig.key_hash.hex()} is not {witness.key_hash.hex()}, the "
                             f"cosignature/v1 key ID of the witness {witness.name!r}: another key, or not a cosignature")
    timestamp = cosignature_timestamp(sig)
    witness.check(body, sig.signature)
    if not_after is not None and timestamp > not_after:
        raise SignatureError(f"the cosignature by {witness.name!r} is dated {timestamp}, after {not_after}")
    return timestamp

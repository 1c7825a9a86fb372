"""audit/note.py against published vectors, an independent implementation, and malformed input.

1. Vectors from elsewhere, each cited where it is used: golang.org/x/mod sumdb/note (note.go's package
   documentation and note_test.go), github.com/transparency-dev/formats (log/note_test.go, with a real
   sum.golang.org checkpoint; note/note_cosigv1_test.go), and the examples of the C2SP specifications
   signed-note, tlog-checkpoint and tlog-cosignature.
2. A second implementation of the formats, written below from the text of the specifications with
   regular expressions and integer key IDs (nothing of audit/note.py), and round trips both ways.
3. Malformed and tampered input, refused with the expected error.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.note import (
    MAX_SIGNATURES,
    SIG_COSIGNATURE_V1,
    SIG_ED25519,
    Checkpoint,
    CheckpointError,
    NoteError,
    NoteSignature,
    SignatureError,
    Verifier,
    VerifierKeyError,
    add_signature,
    checkpoint_body,
    cosignature_message,
    cosignature_timestamp,
    key_hash,
    parse_checkpoint,
    parse_note,
    parse_signature_line,
    parse_vkey,
    sign_cosignature,
    sign_note,
    signature_line,
    verify_cosignature,
    verify_note,
    vkey,
)

EM = "\u2014"


# == 2 (first, the vectors use it too). An independent implementation, from the specifications ====
#
# c2sp.org/signed-note "Format": UTF-8 text ending in newline, a blank line, signature lines
# "— <name> <base64(key ID || signature)>\n"; no control character below U+0020 but newline; the text
# ends at the last blank line. Key ID = SHA-256(name || 0x0A || type || key)[:4] as a big-endian uint32.
# c2sp.org/tlog-checkpoint "Note text": origin, decimal size without leading zeros, base64 root, extensions.
# c2sp.org/tlog-cosignature: message "cosignature/v1\ntime <t>\n" + text, signature u64be(t) || Ed25519.


class RefReject(Exception):
    """The reference implementation refuses its input."""


REF_NOTE = re.compile(f"(.*\n)\n((?:{EM} [^\n]+\n)+)", re.DOTALL)  # greedy: splits at the last blank line
REF_SIG_LINE = re.compile(f"{EM} ([^\\s+]+) ([A-Za-z0-9+/]+={{0,2}})")
REF_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")
# 32 bytes are 43 base64 digits and "=": the last digit carries 2 padding bits, which must be zero.
REF_CHECKPOINT = re.compile("([^\n]+)\n(0|[1-9][0-9]*)\n([A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)\n((?:[^\n]+\n)*)")
REF_VKEY = re.compile(r"([^+\s]+)\+([0-9a-fA-F]{8})\+([A-Za-z0-9+/]+={0,2})")


def ref_key_id(name: str, sig_type: int, public: bytes) -> int:
    return int.from_bytes(hashlib.sha256(name.encode() + b"\x0a" + bytes([sig_type]) + public).digest()[:4], "big")


def ref_public(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def ref_vkey(name: str, sig_type: int, public: bytes) -> str:
    return f"{name}+{ref_key_id(name, sig_type, public):08x}+{base64.b64encode(bytes([sig_type]) + public).decode()}"


def ref_parse_vkey(text: str) -> tuple[str, int, bytes]:
    m = REF_VKEY.fullmatch(text)
    if not m:
        raise RefReject("vkey syntax")
    raw = base64.b64decode(m[3])
    if len(raw) != 33 or raw[0] not in (1, 4) or int(m[2], 16) != ref_key_id(m[1], raw[0], raw[1:]):
        raise RefReject("vkey content")
    return m[1], raw[0], raw[1:]


def ref_cosigned_message(text: bytes, t: int) -> bytes:
    return ("cosignature/v1\n" + "time " + str(t) + "\n").encode() + text


def ref_sign(text: bytes, name: str, seed: bytes) -> bytes:
    key_id = ref_key_id(name, 1, ref_public(seed)).to_bytes(4, "big")
    signature = Ed25519PrivateKey.from_private_bytes(seed).sign(text)
    return text + f"\n{EM} {name} {base64.b64encode(key_id + signature).decode()}\n".encode()


def ref_cosign(text: bytes, name: str, seed: bytes, t: int) -> str:
    key_id = ref_key_id(name, 4, ref_public(seed)).to_bytes(4, "big")
    signature = Ed25519PrivateKey.from_private_bytes(seed).sign(ref_cosigned_message(text, t))
    return f"{EM} {name} {base64.b64encode(key_id + t.to_bytes(8, 'big') + signature).decode()}\n"


def ref_open(message: bytes, keys: list[tuple[str, int, bytes]]) -> tuple[bytes, list[str]]:
    """The text and the names of the known keys that signed it (each key: name, type, public key)."""
    try:
        decoded = message.decode("utf-8")
    except UnicodeDecodeError:
        raise RefReject("not UTF-8") from None
    m = REF_NOTE.fullmatch(decoded)
    if not m or REF_CONTROL.search(decoded):
        raise RefReject("note syntax")
    text = m[1].encode()
    by_id = {(name, ref_key_id(name, t, public)): (t, public) for name, t, public in keys}
    signers = []
    for line in m[2].split("\n")[:-1]:
        s = REF_SIG_LINE.fullmatch(line)
        if not s:
            raise RefReject("signature line syntax")
        raw = base64.b64decode(s[2], validate=True)
        found = by_id.get((s[1], int.from_bytes(raw[:4], "big")))
        if found is None:
            continue  # unknown key: ignored
        t, public = found
        signed = text if t == 1 else ref_cosigned_message(text, int.from_bytes(raw[4:12], "big"))
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(raw[4:] if t == 1 else raw[12:], signed)
        except InvalidSignature:
            raise RefReject(f"bad signature by {s[1]}") from None
        signers.append(s[1])
    if not signers:
        raise RefReject("no known signer")
    return text, signers


def ref_checkpoint(text: bytes) -> tuple[str, int, bytes, list[str]]:
    m = REF_CHECKPOINT.fullmatch(text.decode("utf-8"))
    if not m or REF_CONTROL.search(m[0]):  # a checkpoint is note text: no control characters either
        raise RefReject("checkpoint syntax")
    return m[1], int(m[2]), base64.b64decode(m[3]), m[4].split("\n")[:-1]


def ref_checkpoint_text(origin: str, size: int, root: bytes, extensions: list[str]) -> bytes:
    return (f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n" + "".join(e + "\n" for e in extensions)).encode()


# == 1. Vectors from elsewhere =====================================================================

# golang.org/x/mod/sumdb/note, note.go package documentation and note_test.go (TestSign, TestOpen):
# the signer key "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
# is 0x01 || the Ed25519 seed below.
PETER_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = f"{EM} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_SIG = f"{EM} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

# github.com/transparency-dev/formats, log/note_test.go (TestSumDBNoteParsing, BenchmarkParse): a real
# checkpoint of the Go checksum database, its public key, and three more keys with their signatures
# over the same text; "random1" reuses the key ID and signature of "witness" under another name.
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_NOTE = ("go.sum database tree\n6476701\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n\n"
              f"{EM} sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=\n")
BENCH_VKEYS = ["monkeys+db4d9f7e+AULaJMvTtDLHPUcUrjdDad9vDlh/PTfC2VV60JUtCfWT",
               "bananas+cf639f13+AaPjhFnPCQnid/Ql32KWhmh+uk72FVRfK+2DLmO3BI3M",
               "witness+f13a86db+AdYV1Ztajd9BvyjP2HgpwrqYL6TjOwIjGMOq8Bu42xbN"]
BENCH_SIGS = [f"{EM} monkeys 202ffh9ve46Mqbhuyb4wnC2Pwdan5EsXQym/tF1ggXJqhjGosU4T5intH4iKMRgDLxrnXuIjRaU2NbvAnaepM6Y+8ww=\n",
              f"{EM} bananas z2OfE+2bbsBZ7NLgfuslc0v7NFW2QyexJ7fhePpoL2N/P7N/COd5S+JNHbQEAlYzz2C5sg0E+x/MggS1mDR6t3/9rQw=\n",
              f"{EM} witness 8TqG25yWGFLdT7WPf/WoyeG3LwqtkXP+8S3yykOVm6EMh4hPgCke6eSVPU4BdtXNMPJBXKF+UpDbGgCdcpR8SVSoqAU=\n",
              f"{EM} random1 8TqG25yWGFLdT7WPf/WoyeG3LwqtkXP+8S3yykOVm6EMh4hPgCke6eSVPU4BdtXNMPJBXKF+UpDbGgCdcpR8SVSoqAU=\n"]

# c2sp.org/tlog-checkpoint and c2sp.org/tlog-cosignature examples (the specs publish no keys for them).
SOFA_BODY = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SOFA_LOG_SIG = (f"{EM} example.com/behind-the-sofa "
                "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n")
SOFA_WITNESS_SIG = (f"{EM} witness.example.com/w1 "
                    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n")


def test_the_go_note_documentation_example_is_signed_byte_for_byte() -> None:
    key = Ed25519PrivateKey.from_private_bytes(PETER_SEED)
    expected = GO_TEXT + "\n" + PETER_SIG
    assert sign_note(GO_TEXT.encode(), "PeterNeumann", key) == expected
    assert ref_sign(GO_TEXT.encode(), "PeterNeumann", PETER_SEED).decode() == expected


def test_the_go_verifier_key_and_key_hash() -> None:
    public = Ed25519PrivateKey.from_private_bytes(PETER_SEED).public_key()
    assert vkey("PeterNeumann", public) == PETER_VKEY
    assert key_hash("PeterNeumann", public) == bytes.fromhex("c74f20a3")
    assert parse_vkey(PETER_VKEY) == Verifier("PeterNeumann", bytes.fromhex("c74f20a3"), public.public_bytes_raw(), SIG_ED25519)
    assert parse_vkey(ENOCH_VKEY).key_hash == bytes.fromhex("af0cfe78")


def test_go_open_verifies_the_known_key_and_ignores_the_unknown_one() -> None:
    message = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    verified = verify_note(message, [parse_vkey(PETER_VKEY)])
    assert verified.body == GO_TEXT.encode()
    assert verified.names == ("PeterNeumann",)
    assert [(s.name, s.key_hash.hex()) for s in verified.ignored] == [("EnochRoot", "af0cfe78")]
    both = verify_note(message, [parse_vkey(PETER_VKEY), parse_vkey(ENOCH_VKEY)])
    assert both.names == ("PeterNeumann", "EnochRoot") and both.ignored == ()
    assert [s.timestamp for s in both.signers] == [None, None]


def test_go_open_refuses_a_note_no_known_key_signed() -> None:
    with pytest.raises(SignatureError, match="no trusted key"):
        verify_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])


def test_go_open_accepts_100_signatures_and_refuses_101() -> None:
    peter = [parse_vkey(PETER_VKEY)]
    assert verify_note(GO_TEXT + "\n" + PETER_SIG * MAX_SIGNATURES, peter).names == ("PeterNeumann",)
    with pytest.raises(NoteError, match="101 signature lines") as refused:
        verify_note(GO_TEXT + "\n" + PETER_SIG * 101, peter)
    assert not isinstance(refused.value, SignatureError)  # refused before any verification
    assert MAX_SIGNATURES >= 16  # c2sp.org/signed-note "Format": MUST accept at least 16


def test_go_open_refuses_the_invalid_signature_of_a_known_key() -> None:
    # note_test.go TestOpen "Invalid signature": four base64 digits inserted into the signature.
    with pytest.raises(SignatureError, match="PeterNeumann"):
        verify_note(GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], [parse_vkey(PETER_VKEY)])


def test_go_open_with_duplicated_and_altered_unknown_signatures() -> None:
    # note_test.go TestOpen "Duplicated verified and unverified signatures".
    enoch_altered = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    verified = verify_note(GO_TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_altered, [parse_vkey(PETER_VKEY)])
    assert verified.names == ("PeterNeumann",)
    assert {s.name for s in verified.ignored} == {"EnochRoot"} and len(verified.ignored) == 3


@pytest.mark.parametrize("message", [
    GO_TEXT.encode(),  # note_test.go TestOpen "Invalid encoded message syntax", one by one
    (GO_TEXT + "\n").encode(),
    (GO_TEXT + "\n" + PETER_SIG[:-1]).encode(),
    ("\x01" + GO_TEXT + "\n" + PETER_SIG).encode(),
    b"\xff" + (GO_TEXT + "\n" + PETER_SIG).encode(),
    (GO_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name")[:-1]).encode(),
    (GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n").encode(),
])
def test_go_malformed_notes_are_refused_as_malformed(message: bytes) -> None:
    with pytest.raises(NoteError) as refused:
        verify_note(message, [parse_vkey(PETER_VKEY)])
    assert not isinstance(refused.value, SignatureError)
    with pytest.raises(RefReject):
        ref_open(message, [ref_parse_vkey(PETER_VKEY)])


def test_go_verifier_key_manglings_are_all_refused() -> None:
    # note_test.go TestNewVerifier: every proper substring and every one-byte increment is refused,
    # and so are a key of the wrong length and an unknown algorithm, each with an adjusted key hash.
    manglings = {PETER_VKEY[i:j] for i in range(len(PETER_VKEY) + 1) for j in range(i + 1, len(PETER_VKEY) + 1)}
    manglings |= {PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1:] for i in range(len(PETER_VKEY))}
    manglings -= {PETER_VKEY}
    manglings |= {"PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
                  "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"}
    accepted = []
    for text in manglings:
        try:
            parse_vkey(text)
            accepted.append(text)
        except VerifierKeyError:
            pass
    assert accepted == []
    assert len(manglings) > 2000


def test_a_real_sum_golang_org_checkpoint_verifies_and_parses() -> None:
    # The vkey's base64 holds plus signs: only the first two split its fields.
    verified = verify_note(SUMDB_NOTE, [parse_vkey(SUMDB_VKEY)])
    assert verified.names == ("sum.golang.org",)
    checkpoint = parse_checkpoint(verified.body)
    # An origin may hold spaces (tlog-checkpoint "Note text": clients MUST NOT assume the URL form).
    assert (checkpoint.origin, checkpoint.tree_size) == ("go.sum database tree", 6476701)
    assert checkpoint.root_hash == base64.b64decode("mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=")
    assert checkpoint.to_body() == verified.body


def test_signatures_sharing_a_key_id_but_not_the_name_are_ignored() -> None:
    # c2sp.org/signed-note "Signatures": "Verifiers MUST ignore signatures from unknown keys, even if
    # they share a name or ID (but not both) with a known key."
    message = SUMDB_NOTE + "".join(BENCH_SIGS)
    verified = verify_note(message, [parse_vkey(SUMDB_VKEY), *map(parse_vkey, BENCH_VKEYS)])
    assert verified.names == ("sum.golang.org", "monkeys", "bananas", "witness")
    assert [s.name for s in verified.ignored] == ["random1"]
    assert verified.ignored[0].key_hash == parse_vkey(BENCH_VKEYS[2]).key_hash
    assert ref_open(message.encode(), [ref_parse_vkey(k) for k in [SUMDB_VKEY, *BENCH_VKEYS]])[1] == [
        "sum.golang.org", "monkeys", "bananas", "witness"]


@pytest.mark.parametrize(("seed", "expected"), [
    # transparency-dev/formats log/note_test.go: signer keys (0x01 || seed) and their verifier keys.
    ("AdEIq9FLRQni54Wg68T96VJO+iayOaulswav2DUMKgvQ", "Log+2271c621+AemuH5ooBpEPcr+W8onrjA1NfuzBVHdezakU81Ekarvs"),
    ("AQPRoE2+Z+Ed1HaHBA9F/FfracvcZ2rDU39kCecMEoci", "Known+451c786d+AXAQ0T7lbwuY4ABJ9/MYY9bWV3hmSyOGVt2x42NkmdUH"),
    ("ARhZda/l25zjGZswYLDZsLNRzNpmv5wYTN9IoTr1OJ2+", "KnownAgain+4893b26c+AQ+LR7BFF/F/dkpIBjBpSvT0crkteizuUkavAoGeaYMj"),
    ("Aav2knTC6orbhXX8pMWuNiWgO+Wwk2DB+h1eU2Q1W1nU", "Unknown+fdbb2e08+AWgRIYZ+8x1Vl+1Q+sR8zciNHiYI1SdlBjNw+RV0rots"),
])
def test_go_generated_keys_give_their_verifier_keys(seed: str, expected: str) -> None:
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed)[1:])
    assert vkey(expected.split("+")[0], key.public_key()) == expected


def test_cosignature_verifier_keys_from_transparency_dev_formats() -> None:
    # note/note_cosigv1_test.go TestCoSigV1NewVerifier: a native cosignature/v1 (0x04) key and an
    # Ed25519 (0x01) key, then keys NewVerifier refuses.
    remora = parse_vkey("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
    assert (remora.name, remora.sig_type, remora.key_hash.hex()) == ("remora.n621.de", SIG_COSIGNATURE_V1, "da77ade7")
    assert remora.to_vkey() == "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
    assert parse_vkey("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6").sig_type == SIG_ED25519
    for bad in ["bananas.sigstore.dev+12344556", "rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!",
                "rekor.sigstore.dev+12345678+AwEB", "remora.n621.de+NOT_A_NUMBER+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
                "remora.n621.de+00000000+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"]:
        with pytest.raises(VerifierKeyError):
            parse_vkey(bad)


def test_cosignature_timestamps_from_transparency_dev_formats() -> None:
    # note/note_cosigv1_test.go TestCosignatureTimestamp: a cosignature of 1727964367, and a plain
    # Ed25519 signature (4 + 64 bytes), which is no cosignature.
    works = base64.b64decode("ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==")
    assert cosignature_timestamp(works[4:]) == 1727964367
    plain = base64.b64decode("eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY=")
    with pytest.raises(SignatureError, match="not 64"):
        cosignature_timestamp(plain[4:])


def test_the_signed_note_spec_example_parses() -> None:
    # c2sp.org/signed-note: the text holds an empty line and non-ASCII; it ends at the LAST blank line.
    example = ("Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u00e8 subito sera.\n\n"
               f"{EM} quasimodo.example/salvatore "
               "NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n")
    note = parse_note(example)
    assert note.body.decode() == "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u00e8 subito sera.\n"
    [sig] = note.signatures
    assert (sig.name, sig.key_hash.hex(), len(sig.signature)) == ("quasimodo.example/salvatore", "367ba04b", 64)
    assert note.text == example
    with pytest.raises(SignatureError):
        verify_note(example, [])


def test_the_checkpoint_and_cosignature_spec_examples() -> None:
    note = parse_note(SOFA_BODY.decode() + "\n" + SOFA_LOG_SIG + SOFA_WITNESS_SIG)
    assert note.body == SOFA_BODY
    assert parse_checkpoint(note.body) == Checkpoint("example.com/behind-the-sofa", 20852163,
                                                     base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="))
    log, witness = note.signatures
    assert (log.name, len(log.signature)) == ("example.com/behind-the-sofa", 64)
    # c2sp.org/tlog-cosignature "Format": 4-byte key ID, u64 big-endian timestamp, 64-byte signature;
    # the timestamp is the one of the spec's signed-message example below.
    assert (witness.name, witness.key_hash.hex(), len(witness.signature)) == ("witness.example.com/w1", "8d66cf3f", 72)
    assert cosignature_timestamp(witness) == 1679315147
    # c2sp.org/tlog-cosignature "Ed25519 signed message", the example verbatim.
    assert cosignature_message(SOFA_BODY, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")


# == 2. Round trips with the independent implementation ==========================================

LOG_SEED = hashlib.sha256(b"dossier test log key").digest()
OTHER_SEED = hashlib.sha256(b"dossier test other key").digest()
WITNESS_SEED = hashlib.sha256(b"dossier test witness key").digest()
LOG_KEY = Ed25519PrivateKey.from_private_bytes(LOG_SEED)
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(OTHER_SEED)
WITNESS_KEY = Ed25519PrivateKey.from_private_bytes(WITNESS_SEED)
ORIGIN = "dossier.example/audit"
WITNESS = "witness.example/w1"
ROOT = hashlib.sha256(b"a root").digest()
BODY = checkpoint_body(ORIGIN, 1234, ROOT, ["extension \u00e9", "second"])
LOG = Verifier.for_key(ORIGIN, LOG_KEY.public_key())
COSIGNER = Verifier.for_key(WITNESS, WITNESS_KEY.public_key(), SIG_COSIGNATURE_V1)
T = 1_735_689_600


def test_a_checkpoint_signed_here_verifies_with_the_reference() -> None:
    note = sign_note(BODY, ORIGIN, LOG_KEY)
    text, signers = ref_open(note.encode(), [(ORIGIN, 1, ref_public(LOG_SEED))])
    assert (text, signers) == (BODY, [ORIGIN])
    assert ref_checkpoint(text) == (ORIGIN, 1234, ROOT, ["extension \u00e9", "second"])


def test_a_checkpoint_signed_by_the_reference_verifies_here() -> None:
    text = ref_checkpoint_text(ORIGIN, 99, ROOT, [])
    verified = verify_note(ref_sign(text, ORIGIN, LOG_SEED), [parse_vkey(ref_vkey(ORIGIN, 1, ref_public(LOG_SEED)))])
    assert verified.names == (ORIGIN,) and verified.body == text
    assert parse_checkpoint(verified.body) == Checkpoint(ORIGIN, 99, ROOT, ())


def test_a_cosignature_made_here_verifies_with_the_reference_and_the_reverse() -> None:
    line = sign_cosignature(BODY, WITNESS, WITNESS_KEY, T)
    assert line == ref_cosign(BODY, WITNESS, WITNESS_SEED, T)  # Ed25519 is deterministic
    note = add_signature(sign_note(BODY, ORIGIN, LOG_KEY), line)
    keys = [(ORIGIN, 1, ref_public(LOG_SEED)), (WITNESS, 4, ref_public(WITNESS_SEED))]
    assert ref_open(note.encode(), keys)[1] == [ORIGIN, WITNESS]
    other_time = ref_cosign(BODY, WITNESS, WITNESS_SEED, T + 1)
    assert verify_cosignature(BODY, other_time, WITNESS_KEY.public_key(), WITNESS) == T + 1
    verified = verify_note(add_signature(note, other_time), [LOG, COSIGNER])
    assert [(s.verifier.name, s.timestamp) for s in verified.signers] == [(ORIGIN, None), (WITNESS, T + 1)]


def test_verifier_keys_agree_with_the_reference() -> None:
    for sig_type in (SIG_ED25519, SIG_COSIGNATURE_V1):
        text = vkey(WITNESS, WITNESS_KEY.public_key(), sig_type)
        assert text == ref_vkey(WITNESS, sig_type, ref_public(WITNESS_SEED))
        assert ref_parse_vkey(text) == (WITNESS, sig_type, ref_public(WITNESS_SEED))
        parsed = parse_vkey(text)
        assert (parsed.sig_type, parsed.key_hash) == (sig_type, ref_key_id(WITNESS, sig_type, parsed.public_key).to_bytes(4, "big"))
    assert vkey(WITNESS, WITNESS_KEY.public_key()) != vkey(WITNESS, WITNESS_KEY.public_key(), SIG_COSIGNATURE_V1)


_TEXT_CHARS = st.characters(min_codepoint=0x20, blacklist_categories=["Cs"])


@settings(max_examples=150, deadline=None)
@given(origin=st.text(_TEXT_CHARS, min_size=1, max_size=40), size=st.integers(0, 2**64 - 1),
       root=st.binary(min_size=32, max_size=32), extensions=st.lists(st.text(_TEXT_CHARS, min_size=1, max_size=20), max_size=3))
def test_checkpoints_agree_with_the_reference(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    body = checkpoint_body(origin, size, root, extensions)
    assert body == ref_checkpoint_text(origin, size, root, extensions)
    assert ref_checkpoint(body) == (origin, size, root, extensions)
    assert parse_checkpoint(body) == Checkpoint(origin, size, root, tuple(extensions))


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(st.text(_TEXT_CHARS, max_size=30), min_size=1, max_size=5),
       name=st.text(st.characters(min_codepoint=0x21, blacklist_categories=["Cs", "Zs", "Zl", "Zp"], blacklist_characters="+\x85"),
                    min_size=1, max_size=20))
def test_notes_of_any_text_agree_with_the_reference(lines: list[str], name: str) -> None:
    body = "".join(line + "\n" for line in lines).encode()  # empty lines, and lines like signatures, included
    keys = [(name, 1, ref_public(OTHER_SEED))]
    signed_here = sign_note(body, name, OTHER_KEY)
    assert ref_open(signed_here.encode(), keys) == (body, [name])
    verified = verify_note(ref_sign(body, name, OTHER_SEED), [Verifier.for_key(name, OTHER_KEY.public_key())])
    assert verified.body == body and verified.names == (name,)


# == 3. Tampering and malformed input =============================================================


def _signed() -> str:
    return sign_note(BODY, ORIGIN, LOG_KEY)


def test_an_altered_body_fails() -> None:
    note = _signed().replace("1234", "1235", 1)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_note(note, [LOG])
    with pytest.raises(RefReject):
        ref_open(note.encode(), [(ORIGIN, 1, ref_public(LOG_SEED))])


def test_an_altered_signature_fails() -> None:
    [sig] = parse_note(_signed()).signatures
    flipped = bytes([sig.signature[0] ^ 1]) + sig.signature[1:]
    note = BODY.decode() + "\n" + signature_line(sig.name, sig.key_hash, flipped)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_note(note, [LOG])


def test_a_wrong_key_hash_or_a_wrong_name_makes_the_signature_unknown() -> None:
    [sig] = parse_note(_signed()).signatures
    wrong_hash = BODY.decode() + "\n" + signature_line(ORIGIN, bytes([sig.key_hash[0] ^ 0x80]) + sig.key_hash[1:], sig.signature)
    wrong_name = BODY.decode() + "\n" + signature_line("dossier.example/other", sig.key_hash, sig.signature)
    for note in (wrong_hash, wrong_name):
        with pytest.raises(SignatureError, match="no trusted key"):
            verify_note(note, [LOG])


def test_a_key_of_another_type_does_not_verify_the_signature() -> None:
    # The same Ed25519 key as a cosigner (0x04) has another key ID: its plain signature is unknown to it.
    with pytest.raises(SignatureError, match="no trusted key"):
        verify_note(_signed(), [Verifier.for_key(ORIGIN, LOG_KEY.public_key(), SIG_COSIGNATURE_V1)])


def test_a_signature_by_the_known_name_with_another_key_fails() -> None:
    impostor = sign_note(BODY, ORIGIN, OTHER_KEY)  # same name, another key: another key ID, ignored
    with pytest.raises(SignatureError, match="no trusted key"):
        verify_note(impostor, [LOG])
    forged = Verifier(ORIGIN, LOG.key_hash, OTHER_KEY.public_key().public_bytes_raw())  # a key list claiming the log's ID
    with pytest.raises(SignatureError, match="does not verify"):
        verify_note(_signed(), [forged])


def test_an_extra_signature_by_an_unknown_key_still_verifies_with_the_known_one() -> None:
    other = parse_note(sign_note(BODY, "someone.example/else", OTHER_KEY)).signatures[0]
    note = add_signature(_signed(), other.line)
    verified = verify_note(note, [LOG])
    assert verified.names == (ORIGIN,) and verified.ignored == (other,)
    # ... also when the unknown line comes first, and when it is garbage that merely parses.
    garbage = signature_line("mallory.example", b"\x00\x00\x00\x00", b"\x01" * 64)
    assert verify_note(BODY.decode() + "\n" + garbage + _signed().split("\n\n")[1], [LOG]).names == (ORIGIN,)


def test_a_failing_known_signature_rejects_the_note_even_beside_a_good_one() -> None:
    # c2sp.org/signed-note "Signatures": if a signature from a known key fails, clients SHOULD reject the note.
    bad = parse_note(sign_note(b"another text\n", "second.example", OTHER_KEY)).signatures[0]
    note = add_signature(_signed(), bad.line)
    with pytest.raises(SignatureError, match="second.example"):
        verify_note(note, [LOG, Verifier.for_key("second.example", OTHER_KEY.public_key())])


def test_two_different_keys_under_one_name_and_key_id_are_refused() -> None:
    twin = Verifier(LOG.name, LOG.key_hash, OTHER_KEY.public_key().public_bytes_raw())
    with pytest.raises(VerifierKeyError, match="two different trusted keys"):
        verify_note(_signed(), [LOG, twin])
    assert verify_note(_signed(), [LOG, LOG]).names == (ORIGIN,)  # the same key twice is no ambiguity


@pytest.mark.parametrize(("note", "message"), [
    (BODY.decode() + EM + " x AAAAAAA=\n", "no blank line"),  # missing blank line
    (BODY.decode() + "\n", "no signature line"),
    (BODY.decode() + "\n" + "- " + ORIGIN + " AAAAAAA=\n", "em dash"),  # a hyphen-minus, not U+2014
    (BODY.decode() + "\n" + EM + "  AAAAAAA=\n", "empty"),
    (BODY.decode() + "\n" + EM + " name\n", "no space"),
    (BODY.decode() + "\n" + EM + " na+me AAAAAAA=\n", "plus sign"),
    (BODY.decode() + "\n" + EM + " name AAAAAA==\n", "is 4 bytes"),  # a key ID without a signature
    (BODY.decode() + "\n" + EM + " name AAAAAA?=\n", "base64"),
    (BODY.decode() + "\n" + EM + " name AAAAAAA\n", "base64"),  # padding missing
    (BODY.decode() + "\n" + EM + " name AAAAAAB=\n", "canonical"),  # non-zero padding bits
    (BODY.decode() + "\n" + EM + " name AAAAAAA=", "newline"),
    (BODY.decode().replace("\n", "\r\n") + "\r\n" + EM + " name AAAAAAA=\r\n", "U\\+000D"),
    ("text \ud800\n\n" + EM + " name AAAAAAA=\n", "UTF-8"),
])
def test_malformed_notes_say_what_is_wrong(note: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        parse_note(note)


def test_notes_that_are_not_utf8_are_refused() -> None:
    with pytest.raises(NoteError, match="not valid UTF-8"):
        parse_note(b"caf\xe9\n\n" + f"{EM} name AAAAAAA=\n".encode())
    with pytest.raises(CheckpointError, match="not valid UTF-8"):
        parse_checkpoint(b"caf\xe9\n1\n" + base64.b64encode(ROOT) + b"\n")


def test_signing_refuses_what_could_not_be_parsed_back() -> None:
    with pytest.raises(NoteError, match="newline"):
        sign_note(b"no final newline", ORIGIN, LOG_KEY)
    with pytest.raises(NoteError, match="control character"):
        sign_note(b"a\tb\n", ORIGIN, LOG_KEY)
    for name, problem in (("has space", "space"), ("has+plus", "plus"), ("", "empty"), ("nb\u00a0sp", "space")):
        with pytest.raises(NoteError, match=problem):
            sign_note(BODY, name, LOG_KEY)


def test_add_signature_replaces_the_same_keys_signature_and_checks_the_line() -> None:
    first = add_signature(_signed(), sign_cosignature(BODY, WITNESS, WITNESS_KEY, T))
    again = add_signature(first, sign_cosignature(BODY, WITNESS, WITNESS_KEY, T + 60))
    assert [s.name for s in parse_note(again).signatures] == [ORIGIN, WITNESS]
    assert [s.timestamp for s in verify_note(again, [LOG, COSIGNER]).signers] == [None, T + 60]
    with pytest.raises(NoteError, match="em dash"):
        add_signature(_signed(), "-- witness AAAAAAA=")


def test_a_cosignature_over_a_different_body_or_time_fails() -> None:
    line = sign_cosignature(BODY, WITNESS, WITNESS_KEY, T)
    assert verify_cosignature(BODY, line, WITNESS_KEY.public_key(), WITNESS) == T
    other_body = checkpoint_body(ORIGIN, 1235, ROOT)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_cosignature(other_body, line, WITNESS_KEY.public_key(), WITNESS)
    sig = parse_signature_line(line)
    retimed = NoteSignature(sig.name, sig.key_hash, (T + 1).to_bytes(8, "big") + sig.signature[8:])
    with pytest.raises(SignatureError, match="does not verify"):
        verify_cosignature(BODY, retimed, WITNESS_KEY.public_key(), WITNESS)
    with pytest.raises(SignatureError, match="does not verify"):  # the same, inside a note
        verify_note(BODY.decode() + "\n" + retimed.line, [COSIGNER])


def test_a_cosignature_by_another_witness_name_or_key_fails() -> None:
    line = sign_cosignature(BODY, WITNESS, WITNESS_KEY, T)
    with pytest.raises(SignatureError, match="not by the witness"):
        verify_cosignature(BODY, line, WITNESS_KEY.public_key(), "witness.example/w2")
    with pytest.raises(SignatureError, match="key ID"):
        verify_cosignature(BODY, line, OTHER_KEY.public_key(), WITNESS)
    plain = parse_note(sign_note(BODY, WITNESS, WITNESS_KEY)).signatures[0]  # type 0x01, not a cosignature
    with pytest.raises(SignatureError, match="key ID"):
        verify_cosignature(BODY, plain, WITNESS_KEY.public_key(), WITNESS)


def test_cosignature_timestamps_are_bounded() -> None:
    line = sign_cosignature(BODY, WITNESS, WITNESS_KEY, T)
    with pytest.raises(SignatureError, match="after"):
        verify_cosignature(BODY, line, WITNESS_KEY.public_key(), WITNESS, not_after=T - 1)
    assert verify_cosignature(BODY, line, WITNESS_KEY.public_key(), WITNESS, not_after=T) == T
    sig = parse_signature_line(line)
    too_late = NoteSignature(sig.name, sig.key_hash, (2**63).to_bytes(8, "big") + sig.signature[8:])
    with pytest.raises(SignatureError, match="exceeds 2\\^63"):
        verify_cosignature(BODY, too_late, WITNESS_KEY.public_key(), WITNESS)
    for bad in (-1, 2**63):
        with pytest.raises(SignatureError, match="between 0 and 2\\^63"):
            sign_cosignature(BODY, WITNESS, WITNESS_KEY, bad)
    assert cosignature_message(BODY, 0).startswith(b"cosignature/v1\ntime 0\n")


def test_a_cosignature_is_only_over_a_checkpoint() -> None:
    with pytest.raises(CheckpointError):
        sign_cosignature(b"just some text\n", WITNESS, WITNESS_KEY, T)


ROOT64 = base64.b64encode(ROOT).decode()
URLSAFE_ROOT = base64.urlsafe_b64encode(b"\xff" * 32).decode()  # "_" is not a standard base64 digit


@pytest.mark.parametrize(("body", "message"), [
    (f"log\n01234\n{ROOT64}\n", "leading zeros"),
    (f"log\n00\n{ROOT64}\n", "leading zeros"),
    (f"log\n+5\n{ROOT64}\n", "leading zeros"),
    (f"log\n-1\n{ROOT64}\n", "leading zeros"),
    (f"log\n 5\n{ROOT64}\n", "leading zeros"),
    (f"log\n5 \n{ROOT64}\n", "leading zeros"),
    (f"log\n\u0663\n{ROOT64}\n", "leading zeros"),  # ARABIC-INDIC DIGIT THREE
    (f"log\n\n{ROOT64}\n", "leading zeros"),
    (f"log\n5\n{base64.b64encode(ROOT[:31]).decode()}\n", "31 bytes"),
    (f"log\n5\n{base64.b64encode(ROOT + b'x').decode()}\n", "33 bytes"),
    (f"log\n5\n{ROOT64[:-2]}B=\n", "canonical"),
    (f"log\n5\n{URLSAFE_ROOT}\n", "base64"),
    (f"log\n5\n{ROOT64.rstrip('=')}\n", "base64"),
    (f"\n5\n{ROOT64}\n", "origin line is empty"),
    (f"log\n5\n{ROOT64}\n\n", "extension line 1"),
    (f"log\n5\n{ROOT64}\next\n\nmore\n", "extension line 2"),
    (f"log\n5\n{ROOT64}", "newline"),
    ("log\n5\n", "at least 3 lines"),
    (f"log\r\n5\n{ROOT64}\n", "U\\+000D"),
])
def test_malformed_checkpoints_are_refused(body: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        parse_checkpoint(body.encode())
    with pytest.raises(RefReject):
        ref_checkpoint(body.encode())


def test_a_tree_size_beyond_64_bits_is_refused() -> None:
    # Not in tlog-checkpoint; the reference implementations hold a tree size in a uint64.
    with pytest.raises(CheckpointError, match="larger than 2\\^64"):
        parse_checkpoint(f"log\n{2**64}\n{ROOT64}\n".encode())


def test_the_empty_tree_and_the_largest_size_parse() -> None:
    empty = hashlib.sha256(b"").digest()  # RFC 9162 2.1.1: the root of the empty tree
    assert parse_checkpoint(checkpoint_body("log", 0, empty)) == Checkpoint("log", 0, empty)
    assert parse_checkpoint(f"log\n{2**64 - 1}\n{ROOT64}\n".encode()).tree_size == 2**64 - 1


def test_checkpoint_body_refuses_what_parse_checkpoint_would() -> None:
    with pytest.raises(CheckpointError, match="31"):
        checkpoint_body(ORIGIN, 1, ROOT[:31])
    with pytest.raises(CheckpointError, match="between 0 and 2\\^64"):
        checkpoint_body(ORIGIN, -1, ROOT)
    with pytest.raises(TypeError):
        checkpoint_body(ORIGIN, True, ROOT)
    with pytest.raises(CheckpointError, match="newline"):
        checkpoint_body("two\nlines", 1, ROOT)
    with pytest.raises(CheckpointError, match="empty"):
        checkpoint_body(ORIGIN, 1, ROOT, [""])
    with pytest.raises(TypeError):
        checkpoint_body(ORIGIN, 1, ROOT, "one line")


def test_verifier_keys_of_unsupported_types_or_lengths_are_refused() -> None:
    public = WITNESS_KEY.public_key().public_bytes_raw()
    ecdsa = f"w+{ref_key_id('w', 2, public):08x}+{base64.b64encode(bytes([2]) + public).decode()}"  # a right ID, type 0x02
    with pytest.raises(VerifierKeyError, match="type 0x02"):
        parse_vkey(ecdsa)
    short = f"w+{ref_key_id('w', 1, public[:31]):08x}+{base64.b64encode(bytes([1]) + public[:31]).decode()}"
    with pytest.raises(VerifierKeyError, match="31 bytes"):
        parse_vkey(short)
    with pytest.raises(VerifierKeyError, match="not supported"):
        Verifier.for_key("w", public, 0x02)
    name, hex_id, key = vkey("w", public).split("+", 2)
    assert parse_vkey(f"{name}+{hex_id.upper()}+{key}").key_hash == bytes.fromhex(hex_id)  # Go's ParseUint takes both cases

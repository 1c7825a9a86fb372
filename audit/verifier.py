"""Stand-alone verifier of an exported audit log: needs this file, the export and the public keys.

    python -m audit.verifier EXPORT.jsonl --jwks jwks.json [--trusted-checkpoint CHECKPOINT.jws]

It depends on nothing of the service (only the standard library and ``cryptography``), so an
auditor can read it whole and run it anywhere. It recomputes every leaf hash and the RFC 9162 tree,
checks each checkpoint's Ed25519 signature and root, and, given a checkpoint the auditor kept from
an earlier visit, that the log only grew since (a rollback or a rewrite fails).
Exit status 0 when everything verifies; 1 with the first problem otherwise.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EXPORT_FORMAT = "dossier-audit-export/1"


# -- RFC 9162 hashing ---------------------------------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class StreamingRoot:
    """The root of the leaves seen so far, updated in O(1) amortised per leaf."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []  # complete subtree roots, largest first

    def add(self, leaf: bytes) -> None:
        self._stack.append(leaf)
        self.size += 1
        size = self.size
        while size % 2 == 0:
            right = self._stack.pop()
            self._stack.append(node_hash(self._stack.pop(), right))
            size //= 2

    def root(self) -> bytes:
        if not self._stack:
            return hashlib.sha256(b"").digest()
        result = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            result = node_hash(left, result)
        return result


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if first == second:
        return not path and first_root == second_root
    if not 0 < first < second or not path:
        return False
    if first & (first - 1) == 0:  # first is a power of two: its root starts the path
        path = [first_root, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


# -- checkpoints ----------------------------------------------------------------------------------


def _b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def verify_checkpoint(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's payload if its Ed25519 signature verifies with a key of ``jwks``; else ValueError."""
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_b64url(header_b64))
        payload: dict[str, Any] = json.loads(_b64url(payload_b64))
    except ValueError as exc:
        raise ValueError("checkpoint is not a compact JWS") from exc
    if header.get("alg") not in ("Ed25519", "EdDSA"):
        raise ValueError("checkpoint is not signed with Ed25519")
    keys = [k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid") and k.get("kty") == "OKP" and k.get("crv") == "Ed25519"]
    if not keys:
        raise ValueError("no public key with the checkpoint's kid")
    if keys[0].get("dossier_use") != "checkpoint":
        # A key is accepted only for what it is published for: a token key signs no checkpoint.
        raise ValueError("the checkpoint's key is not published for checkpoints")
    public = Ed25519PublicKey.from_public_bytes(_b64url(keys[0]["x"]))
    try:
        public.verify(_b64url(signature_b64), f"{header_b64}.{payload_b64}".encode("ascii"))
    except InvalidSignature:
        raise ValueError("checkpoint signature does not verify") from None
    if not isinstance(payload.get("tree_size"), int) or not isinstance(payload.get("root_hash"), str):
        raise ValueError("checkpoint payload lacks tree_size or root_hash")
    return payload


# -- the whole log --------------------------------------------------------------------------------


@dataclass
class Report:
    ok: bool = True
    tree_size: int = 0
    checkpoints: int = 0
    problem: str = ""
    first_bad_entry: int | None = None
    roots: dict[int, bytes] = field(default_factory=dict)

    def fail(self, problem: str, entry: int | None = None) -> Report:
        if self.ok:
            self.ok, self.problem, self.first_bad_entry = False, problem, entry
        return self


def verify_log(
    leaves: Iterable[tuple[int, bytes, bytes | None]],
    checkpoints: Iterable[str],
    jwks: dict[str, Any],
    trusted: Iterable[str] = (),
    expected_size: int | None = None,
) -> Report:
    """Verify a log given as (leaf_index, entry bytes, recorded leaf hash or None), in order.

    Every checkpoint (and every ``trusted`` one the auditor kept) must verify and match the root
    recomputed at its size; the recorded leaf hashes, when given, name the first altered entry.

    NOTE: verification fails closed: a log whose last entries no verified signed checkpoint covers
    fails, since anyone with the database could have appended or rewritten them.
    """
    report = Report()
    wanted: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for label, tokens in (("checkpoint", checkpoints), ("trusted checkpoint", trusted)):
        for token in tokens:
            try:
                payload = verify_checkpoint(token, jwks)
            except ValueError as exc:
                return report.fail(f"{label}: {exc}")
            wanted.setdefault(payload["tree_size"], []).append((label, payload))
            report.checkpoints += 1
    tree = StreamingRoot()
    for index, entry, recorded in leaves:
        if index != tree.size:
            return report.fail(f"leaf {tree.size} is missing (next leaf is {index})", tree.size)
        digest = leaf_hash(entry)
        if recorded is not None and recorded != digest:
            return report.fail(f"leaf {index} does not hash to its recorded hash: the entry was altered", index)
        tree.add(digest)
        for label, payload in wanted.pop(tree.size, []):
            if payload["root_hash"] != tree.root().hex():
                return report.fail(f"{label} of size {tree.size} does not match the log: an entry before leaf {tree.size} "
                                   "was altered, removed, reordered or inserted", _last_good(report, tree.size))
            report.roots[tree.size] = tree.root()
    report.tree_size = tree.size
    if expected_size is not None and expected_size != tree.size:
        return report.fail(f"the log says it holds {expected_size} entries but has {tree.size}", tree.size)
    if wanted:
        larger = max(wanted)
        return report.fail(f"a checkpoint covers {larger} entries but the log has only {tree.size}: "
                           "entries were removed or the log was rolled back", tree.size)
    covered = max(report.roots, default=0)
    if covered < tree.size:
        return report.fail(f"no verified signed checkpoint covers the entries from leaf {covered} on: they could have been "
                           "appended or rewritten by anyone with the database", covered)
    return report


def _last_good(report: Report, size: int) -> int:
    """The first leaf after the last checkpoint that matched: the earliest place the damage can be."""
    return max((s for s in report.roots if s < size), default=0)


def read_export(path: str) -> tuple[dict[str, Any], Iterator[tuple[int, bytes, bytes | None]], list[str]]:
    """The export's header, its leaves (streamed) and its checkpoints."""
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    header = json.loads(lines[0])
    if header.get("format") != EXPORT_FORMAT:
        raise ValueError(f"not a {EXPORT_FORMAT} file")
    items = [json.loads(line) for line in lines[1:] if line.strip()]
    checkpoints = [item["checkpoint"] for item in items if "checkpoint" in item]

    def leaves() -> Iterator[tuple[int, bytes, bytes | None]]:
        for item in items:
            if "entry" in item:
                recorded = bytes.fromhex(item["leaf_hash"]) if item.get("leaf_hash") else None
                yield item["leaf_index"], item["entry"].encode("utf-8"), recorded

    return header, leaves(), checkpoints


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.verifier", description=__doc__.split("\n\n")[0])
    parser.add_argument("export", help="the file written by `dossier audit export`")
    parser.add_argument("--jwks", required=True, help="the service's JWKS (/.well-known/jwks.json), obtained separately")
    parser.add_argument("--trusted-checkpoint", action="append", default=[], metavar="FILE",
                        help="a checkpoint JWS kept from an earlier visit (repeatable)")
    args = parser.parse_args(argv)
    with open(args.jwks, encoding="utf-8") as fh:
        jwks = json.load(fh)
    trusted = []
    for name in args.trusted_checkpoint:
        with open(name, encoding="utf-8") as fh:
            trusted.append(fh.read().strip())
    try:
        header, leaves, checkpoints = read_export(args.export)
    except (OSError, ValueError, KeyError) as exc:
        print(f"FAILED: cannot read the export: {exc}")
        return 1
    report = verify_log(leaves, checkpoints, jwks, trusted, header.get("tree_size"))
    if not report.ok:
        where = f" (first bad entry: leaf {report.first_bad_entry})" if report.first_bad_entry is not None else ""
        print(f"FAILED: {report.problem}{where}")
        return 1
    print(f"OK: {report.tree_size} entries, {report.checkpoints} checkpoints verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())

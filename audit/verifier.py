"""Stand-alone verifier of an exported audit log, or of a seeker's saved access log.

    python -m audit.verifier EXPORT.jsonl --jwks jwks.json [--trusted-checkpoint CHECKPOINT.jws] [--witness VKEY]
    python -m audit.verifier --access-log ACCESS-LOG.json --jwks jwks.json [--previous EARLIER.json]

It depends on nothing of the service but ``audit/note.py`` (the C2SP signed-note format): only the
standard library and ``cryptography``, so an auditor can read the two files whole and run them
anywhere. For an export, it recomputes every leaf hash and the RFC 9162 tree, checks each
checkpoint's Ed25519 signature and root, given a checkpoint the auditor kept from an earlier visit
that the log only grew since (a rollback or a rewrite fails), and given a witness's key that the
witness cosigned a checkpoint of this very log. For an access log, that the list is every entry
about the seeker (``verify_access_log``). Exit status 0 when everything verifies; 1 with the first
problem otherwise.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit import note

EXPORT_FORMAT = "dossier-audit-export/1"
ACCESS_LOG_FORMAT = "dossier-access-log/1"
ACCESS_LOG_READ = "audit:access_log:read"


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


class NodeCheckingRoot(StreamingRoot):
    """``StreamingRoot`` that also compares each complete subtree of ``2**min_level`` leaves or more,
    as it forms, with the stored one (the service's proofs are built from those)."""

    def __init__(self, stored: Iterator[tuple[int, int, bytes]], min_level: int) -> None:
        super().__init__()
        self._stored = stored
        self._min_level = min_level
        self.mismatch: tuple[int, int] | None = None

    def add(self, leaf: bytes) -> None:
        self._stack.append(leaf)
        self.size += 1
        size, level = self.size, 0
        while size % 2 == 0:
            right = self._stack.pop()
            merged = node_hash(self._stack.pop(), right)
            self._stack.append(merged)
            size //= 2
            level += 1
            if level >= self._min_level and self.mismatch is None:
                position = (level, (self.size >> level) - 1)
                if next(self._stored, None) != (*position, merged):
                    self.mismatch = position

    def extra(self) -> tuple[int, int] | None:
        """A stored subtree left over once every leaf was added: one that should not exist."""
        left = next(self._stored, None)
        return (left[0], left[1]) if left is not None else None


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
    stored_nodes: Iterator[tuple[int, int, bytes]] | None = None,
    stored_from_level: int = 4,
) -> Report:
    """Verify a log given as (leaf_index, entry bytes, recorded leaf hash or None), in order.

    Every checkpoint (and every ``trusted`` one the auditor kept) must verify and match the root
    recomputed at its size; the recorded leaf hashes, when given, name the first altered entry;
    ``stored_nodes`` (level, index, hash), when given, must be exactly the tree's complete subtrees
    from ``stored_from_level`` up, in the order they complete.

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
    tree = StreamingRoot() if stored_nodes is None else NodeCheckingRoot(stored_nodes, stored_from_level)
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
    if isinstance(tree, NodeCheckingRoot) and (bad := tree.mismatch or tree.extra()) is not None:
        level, at = bad
        return report.fail(f"the stored tree node at level {level}, index {at} does not match the leaves: "
                           "proofs built on it would not verify", at << level)
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


# -- a seeker's access log ------------------------------------------------------------------------

# What the access log shows of each entry, and the field of the hashed bytes it must equal.
_SHOWN = {"at": ("at",), "actor_role": ("actor", "role"), "action": ("action",), "purposes": ("purposes",),
          "categories": ("categories",), "decision": ("decision",), "reason": ("reason",)}


@dataclass
class AccessLogReport:
    ok: bool = True
    entries: int = 0
    tree_size: int = 0
    problem: str = ""

    def fail(self, problem: str) -> AccessLogReport:
        if self.ok:
            self.ok, self.problem = False, problem
        return self


def verify_access_log(document: dict[str, Any], jwks: dict[str, Any], previous: dict[str, Any] | None = None,
                      request_id: str | None = None) -> AccessLogReport:
    """Check a saved ``GET .../access-log`` response: that its list is every entry about the seeker.

    - the checkpoint's signature verifies with a checkpoint key of ``jwks``;
    - every listed entry is the leaf it claims to be (its bytes hash into the signed tree at its
      index: RFC 9162 inclusion), is about this seeker, and shows what its bytes say;
    - the entries form the seeker's whole chain: the first has no predecessor, each next one names
      the one before it (``chain.prev``) and counts those before it (``chain.n``); the sequencer
      wrote those inside the hashed bytes, so an entry left out, hidden or given to another
      subject breaks the chain or the hashes;
    - the list contains the entry that records this very read (``request_id``): it is complete up
      to the moment it was asked for, not an older answer served again;
    - ``request_id``, when given, is the id of the request the seeker sent (the response's
      ``X-Request-Id``): the document must be the answer to that request, not an older one;
    - ``previous``, a list the seeker saved earlier, is a prefix of this one (nothing they once saw
      was removed or rewritten since).
    """
    report = AccessLogReport()
    if document.get("format") != ACCESS_LOG_FORMAT:
        return report.fail(f"not a {ACCESS_LOG_FORMAT} document")
    if request_id is not None and document.get("request_id") != request_id:
        return report.fail(f"the list answers request {document.get('request_id')}, not {request_id}: an older list served again")
    try:
        signed = verify_checkpoint(document["checkpoint"]["jws"], jwks)
        size, root = signed["tree_size"], bytes.fromhex(signed["root_hash"])
    except (KeyError, TypeError, ValueError) as exc:
        return report.fail(f"checkpoint: {exc}")
    report.tree_size = size
    subject, entries = document.get("subject"), document.get("entries")
    if not isinstance(subject, str) or not isinstance(entries, list):
        return report.fail("the document lacks its subject or its entries")
    previous_index: int | None = None
    read_recorded = False
    for position, item in enumerate(entries):
        try:
            index, leaf, path = item["leaf_index"], item["leaf"].encode("utf-8"), [bytes.fromhex(h) for h in item["inclusion"]]
            recorded = json.loads(leaf)
        except (KeyError, TypeError, AttributeError, ValueError):
            return report.fail(f"entry {position}: it lacks its leaf, index or inclusion path")
        if not verify_inclusion(leaf_hash(leaf), index, size, path, root):
            return report.fail(f"entry {position} (leaf {index}) is not in the signed tree of {size} entries")
        if recorded.get("subject") != subject:
            return report.fail(f"entry {position} (leaf {index}) is about another subject")
        for shown, field_path in _SHOWN.items():
            value: Any = recorded
            for name in field_path:
                value = value.get(name) if isinstance(value, dict) else None
            if shown == "at" and isinstance(value, str) and isinstance(item.get("at"), str):
                same = _instant(value) == _instant(item["at"])
            else:
                same = item.get(shown) == value
            if not same:
                return report.fail(f"entry {position} (leaf {index}) shows a {shown} its hashed bytes do not say")
        purposes = recorded.get("purposes") or [None]
        if item.get("purpose") != purposes[0]:
            return report.fail(f"entry {position} (leaf {index}) shows a purpose its hashed bytes do not say")
        chain = recorded.get("chain")
        if not isinstance(chain, dict):
            return report.fail(f"entry {position} (leaf {index}) predates the chains (format {recorded.get('v')}): "
                               "the list cannot be proven complete before it")
        if chain.get("n") != position or chain.get("prev") != previous_index:
            missing = "the first entry" if position == 0 else f"entry {position}"
            return report.fail(f"{missing} (leaf {index}) says {chain.get('n')} entries came before it, the last at leaf "
                               f"{chain.get('prev')}; the list has {position} before it, the last at leaf {previous_index}: "
                               "entries about you were left out")
        asked_by = document.get("request_id")
        if asked_by is not None and recorded.get("action") == ACCESS_LOG_READ and recorded.get("request_id") == asked_by:
            read_recorded = True
        previous_index = index
    report.entries = len(entries)
    if not read_recorded:
        return report.fail("the list does not contain the entry of the read that produced it (request "
                           f"{document.get('request_id')}): it may be an older list served again")
    if previous is not None:
        now = {item["leaf_index"]: item["leaf"] for item in entries}
        for item in previous.get("entries", []):
            if now.get(item.get("leaf_index")) != item.get("leaf"):
                return report.fail(f"leaf {item.get('leaf_index')} of the earlier list is missing or changed in this one")
    return report


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def read_export(path: str) -> tuple[dict[str, Any], Iterator[tuple[int, bytes, bytes | None]], list[str], list[str]]:
    """The export's header, its leaves (streamed), its checkpoints and the cosigned checkpoint notes."""
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    header = json.loads(lines[0])
    if header.get("format") != EXPORT_FORMAT:
        raise ValueError(f"not a {EXPORT_FORMAT} file")
    items = [json.loads(line) for line in lines[1:] if line.strip()]
    checkpoints = [item["checkpoint"] for item in items if "checkpoint" in item]
    notes = [item["note"] for item in items if "note" in item]

    def leaves() -> Iterator[tuple[int, bytes, bytes | None]]:
        for item in items:
            if "entry" in item:
                recorded = bytes.fromhex(item["leaf_hash"]) if item.get("leaf_hash") else None
                yield item["leaf_index"], item["entry"].encode("utf-8"), recorded

    return header, leaves(), checkpoints, notes


def witnessed_problem(notes: list[str], witnesses: list[note.Verifier], roots: dict[int, bytes]) -> str | None:
    """Each witness must have cosigned a checkpoint whose root is the verified log's at that size:
    the log as the witness saw it is a prefix of this one."""
    for witness in witnesses:
        seen = False
        for text in notes:
            try:
                parsed = note.parse_note(text)
                if all((sig.name, sig.key_hash) != (witness.name, witness.key_hash) for sig in parsed.signatures):
                    continue  # not cosigned by this witness
                body = note.parse_checkpoint(note.verify_note(text, [witness]).body)
            except note.NoteError as exc:
                return f"a checkpoint note cosigned by the witness {witness.name} does not verify: {exc}"
            if roots.get(body.tree_size) != body.root_hash:
                return (f"the witness {witness.name} cosigned a checkpoint of size {body.tree_size} whose root is not this "
                        "log's at that size: the log was rewritten after the witness saw it")
            seen = True
        if not seen:
            return f"no checkpoint in the export is cosigned by the witness {witness.name}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.verifier", description=__doc__.split("\n\n")[0])
    parser.add_argument("export", nargs="?", help="the file written by `dossier audit export`")
    parser.add_argument("--access-log", metavar="FILE", help="a saved GET .../access-log response, checked instead of an export")
    parser.add_argument("--previous", metavar="FILE", help="with --access-log: a list saved earlier, which must be a prefix of this one")
    parser.add_argument("--request-id", metavar="ID", help="with --access-log: the X-Request-Id the response came with")
    parser.add_argument("--jwks", required=True, help="the service's JWKS (/.well-known/jwks.json), obtained separately")
    parser.add_argument("--witness", action="append", default=[], metavar="VKEY",
                        help="a witness's verifier key: some checkpoint of the export must carry its valid cosignature (repeatable)")
    parser.add_argument("--trusted-checkpoint", action="append", default=[], metavar="FILE",
                        help="a checkpoint JWS kept from an earlier visit (repeatable)")
    args = parser.parse_args(argv)
    if (args.export is None) == (args.access_log is None):
        parser.error("give either an export or --access-log FILE")
    with open(args.jwks, encoding="utf-8") as fh:
        jwks = json.load(fh)
    if args.access_log is not None:
        return _main_access_log(args.access_log, args.previous, args.request_id, jwks)
    trusted = []
    for name in args.trusted_checkpoint:
        with open(name, encoding="utf-8") as fh:
            trusted.append(fh.read().strip())
    try:
        header, leaves, checkpoints, notes = read_export(args.export)
        witnesses = [note.parse_vkey(text) for text in args.witness]
    except (OSError, ValueError, KeyError) as exc:
        print(f"FAILED: cannot read the export or a witness key: {exc}")
        return 1
    report = verify_log(leaves, checkpoints, jwks, trusted, header.get("tree_size"))
    if report.ok and (problem := witnessed_problem(notes, witnesses, report.roots)) is not None:
        report.fail(problem)
    if not report.ok:
        where = f" (first bad entry: leaf {report.first_bad_entry})" if report.first_bad_entry is not None else ""
        print(f"FAILED: {report.problem}{where}")
        return 1
    print(f"OK: {report.tree_size} entries, {report.checkpoints} checkpoints verified")
    return 0


def _main_access_log(path: str, previous_path: str | None, request_id: str | None, jwks: dict[str, Any]) -> int:
    try:
        with open(path, encoding="utf-8") as fh:
            document = json.load(fh)
        previous = None
        if previous_path is not None:
            with open(previous_path, encoding="utf-8") as fh:
                previous = json.load(fh)
    except (OSError, ValueError) as exc:
        print(f"FAILED: cannot read the access log: {exc}")
        return 1
    report = verify_access_log(document, jwks, previous, request_id)
    if not report.ok:
        print(f"FAILED: {report.problem}")
        return 1
    print(f"OK: {report.entries} entries about {document['subject']}, complete up to this read, "
          f"in the signed tree of {report.tree_size} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Signed checkpoints of the audit chain heads, kept outside the database.

The keyed link hashes (audit/chain.py) stop whoever holds only the database from
forging a chain; they do not stop whoever holds ``SSPF_AUDIT_KEY`` from rewriting one
and recomputing every link. A checkpoint closes that gap the way Certificate
Transparency's signed tree heads do (RFC 6962, section 3.5): at intervals the head of
every chain (position and hash) is signed with an Ed25519 key (``SSPF_AUDIT_SIGNING_KEY``)
and appended to a file outside the database. Since a head's hash commits to every link
before it, a chain that no longer holds a checkpointed head at its position has been
rewritten or cut, whoever held which key: ``verify_audit`` checks every checkpoint.

The file. ``checkpoints.jsonl`` in ``SSPF_AUDIT_CHECKPOINT_DIR``, one JSON object per
line, only ever appended to (opened with O_APPEND, under an exclusive lock): its number
``n`` (from 1), ``at`` (UTC), ``heads`` (``{chain: [seq, hash]}``), ``prev`` (SHA-256 of
the previous line, zeros for the first, so a line taken out of the middle shows),
``key`` (the signing key's id: the first 16 hex digits of the SHA-256 of its public
key) and ``sig`` (base64 Ed25519 signature over the line's canonical JSON without
``sig``). Each checkpoint is also an audit event (``audit_checkpoint``, the number as
object id, the line's SHA-256 as purpose), so a file that loses its last lines, or is
replaced by an older copy, disagrees with the log.

The folder should be on other storage than the database, or be shipped to it (a log
server, write-once storage): the protection is as good as the file's. The public key,
printed by ``audit_head --public-key``, is all a verifier needs; after the signing key
is replaced, ``SSPF_AUDIT_VERIFY_KEYS`` keeps the earlier public keys known.

Before signing, the links written since the previous checkpoint are verified; a broken
chain is never signed (the attempt is recorded as ``audit_broken``).

Written here rather than taken from a library: the format is a few lines of JSON over
``cryptography``'s Ed25519, and nothing on PyPI offers signed heads for a chain in a
database table.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.db import transaction

from audit import chain
from audit.events import record
from audit.models import AccessEvent, Action, ChainLink, Outcome

FILE_NAME = "checkpoints.jsonl"
ZERO = "0" * 64
OBJECT_TYPE = "audit.Checkpoint"


class CheckpointError(Exception):
    """A checkpoint could not be written; the message says why, without any key."""


@dataclass(frozen=True)
class Checkpoint:
    n: int
    at: str
    heads: dict[int, tuple[int, str]]
    prev: str
    key: str
    sig: str
    line_hash: str


def _signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(settings.SSPF_AUDIT_SIGNING_KEY)


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def public_key() -> str:
    """The signing key's public half, base64 (what a verifier needs)."""
    return base64.b64encode(_raw(_signing_key().public_key())).decode()


def signing_key_id() -> str:
    return key_id(_raw(_signing_key().public_key()))


def verify_keys() -> dict[str, Ed25519PublicKey]:
    """The public keys checkpoints may be signed with, by key id."""
    raws = [_raw(_signing_key().public_key()), *settings.SSPF_AUDIT_VERIFY_KEYS]
    return {key_id(raw): Ed25519PublicKey.from_public_bytes(raw) for raw in raws}


def path() -> Path:
    return Path(settings.SSPF_AUDIT_CHECKPOINT_DIR) / FILE_NAME


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii")


def _line_hash(line: str) -> str:
    return hashlib.sha256(line.encode("ascii")).hexdigest()


def load() -> tuple[list[Checkpoint], str]:
    """Every checkpoint in the file, and the first problem with its form (or "")."""
    try:
        with open(path(), encoding="ascii") as fh:
            fcntl.flock(fh, fcntl.LOCK_SH)  # not while a checkpoint is being written
            text = fh.read()
    except FileNotFoundError:
        return [], ""
    except (OSError, UnicodeDecodeError) as exc:
        return [], f"the checkpoint file cannot be read ({type(exc).__name__})"
    return _parse(text)


def _parse(text: str) -> tuple[list[Checkpoint], str]:
    found: list[Checkpoint] = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            data = json.loads(line)
            heads = {int(c): (int(h[0]), str(h[1])) for c, h in data["heads"].items()}
            found.append(Checkpoint(
                n=int(data["n"]), at=str(data["at"]), heads=heads, prev=str(data["prev"]),
                key=str(data["key"]), sig=str(data["sig"]), line_hash=_line_hash(line)))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            return found, f"line {number} of the checkpoint file is not a checkpoint"
    return found, ""


def _signed_body(cp: Checkpoint) -> dict:
    return {"n": cp.n, "at": cp.at, "prev": cp.prev, "key": cp.key,
            "heads": {str(c): [s, h] for c, (s, h) in sorted(cp.heads.items())}}


def check(checkpoints: list[Checkpoint]) -> str:
    """The first problem with the checkpoints against the database, or ""."""
    keys = verify_keys()
    stored = _stored_hashes(checkpoints)
    prev = ZERO
    for expected_n, cp in enumerate(checkpoints, start=1):
        label = f"checkpoint {cp.n} ({cp.at})"
        if cp.n != expected_n:
            return f"checkpoint {expected_n} is missing from the checkpoint file"
        if cp.prev != prev:
            return f"{label} does not follow the checkpoint before it in the file"
        public = keys.get(cp.key)
        if public is None:
            return f"{label} is signed with an unknown key {cp.key}"
        try:
            public.verify(base64.b64decode(cp.sig, validate=True), _canonical(_signed_body(cp)))
        except (InvalidSignature, ValueError):
            return f"{label}: the signature does not verify"
        for number, (seq, digest) in sorted(cp.heads.items()):
            found = stored.get((number, seq))
            if found is None:
                return (f"chain {number}, link {seq} of {label} is missing: "
                        "the log was cut")
            if found != digest:
                return (f"chain {number}, link {seq} differs from {label}: "
                        "history before the checkpoint was rewritten")
        prev = cp.line_hash
    by_number = {cp.n: cp for cp in checkpoints}
    recorded = dict(AccessEvent.objects.filter(action=Action.AUDIT_CHECKPOINT,
                                               object_type=OBJECT_TYPE)
                    .values_list("object_id", "purpose"))
    for n, line_hash in sorted(recorded.items(), key=lambda item: int(item[0])):
        cp = by_number.get(int(n))
        if cp is None:
            return (f"checkpoint {n}, recorded in the log, is not in the checkpoint file: "
                    "the file was cut or replaced")
        if cp.line_hash != line_hash:
            return f"checkpoint {n} in the file is not the one recorded in the log"
    for cp in checkpoints:  # each is recorded before the file is let go (see write)
        if str(cp.n) not in recorded:
            return (f"checkpoint {cp.n} ({cp.at}) is in the checkpoint file but not in the "
                    "log: the log's newest events were cut")
    return ""


def verify_file() -> tuple[int, str]:
    """How many checkpoints the file holds, and the first problem with them (or "")."""
    found, problem = load()
    return len(found), problem or check(found)


def _stored_hashes(checkpoints: list[Checkpoint], batch: int = 1000) -> dict:
    """{(chain, seq): hash} of every link a checkpoint names, a batch of positions per
    query rather than one query per head."""
    wanted: dict[int, set[int]] = {}
    for cp in checkpoints:
        for number, (seq, _digest) in cp.heads.items():
            wanted.setdefault(number, set()).add(seq)
    found = {}
    for number, seqs in wanted.items():
        ordered = sorted(seqs)
        for start in range(0, len(ordered), batch):
            rows = ChainLink.objects.filter(chain=number, seq__in=ordered[start:start + batch])
            found.update({(number, seq): h for seq, h in rows.values_list("seq", "hash")})
    return found


def write() -> Checkpoint:
    """Verify what was appended since the last checkpoint, then sign the heads and
    append the checkpoint to the file; recorded as an audit event."""
    folder = Path(settings.SSPF_AUDIT_CHECKPOINT_DIR)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / FILE_NAME, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    except OSError as exc:
        raise CheckpointError(
            f"the checkpoint folder cannot be written ({type(exc).__name__})") from None
    with os.fdopen(fd, "r+", encoding="ascii") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # one writer at a time; released on close
        fh.seek(0)
        try:
            existing, problem = _parse(fh.read())
        except UnicodeDecodeError:
            existing, problem = [], "the checkpoint file cannot be read (UnicodeDecodeError)"
        if problem:
            raise CheckpointError(problem)
        last = existing[-1] if existing else None
        heads = chain.heads()  # read first: what is signed is what was verified
        result = chain.verify(start=last.heads if last else None, until=heads)
        if not result.ok:
            with transaction.atomic():
                record(action=Action.AUDIT_BROKEN, outcome=Outcome.FAILED,
                       purpose=f"no checkpoint signed: {result.problem}"[:500])
            raise CheckpointError(f"the chain is broken, nothing was signed: {result.problem}")
        signing = _signing_key()
        cp = Checkpoint(
            n=(last.n if last else 0) + 1,
            at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            heads=heads, prev=last.line_hash if last else ZERO,
            key=signing_key_id(), sig="", line_hash="")
        body = _signed_body(cp)
        body["sig"] = base64.b64encode(signing.sign(_canonical(body))).decode()
        line = json.dumps(body, sort_keys=True, separators=(",", ":"))
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())
        cp = Checkpoint(**{**cp.__dict__, "sig": body["sig"], "line_hash": _line_hash(line)})
        # Recorded (and committed) before the lock is let go: a reader, who takes the lock
        # shared, never sees a line whose event is not yet in the log.
        with transaction.atomic():
            record(action=Action.AUDIT_CHECKPOINT, object_type=OBJECT_TYPE, object_id=cp.n,
                   purpose=cp.line_hash)
    return cp

"""The hash chains over the audit records.

Every AccessEvent and every django-auditlog LogEntry gets one ChainLink. A link's hash
is HMAC-SHA256 under ``SSPF_AUDIT_KEY`` over its chain, position, the record's type and
id, the SHA-256 of the record's canonical serialisation (sorted-key JSON of its hashed
fields) and the previous link's hash. Changing, removing or inserting a record, or a
link, breaks the chain from that point on; ``verify()`` names the first broken link.

Who can forge what. The key keeps whoever holds only the database (a database
administrator, a stolen backup) from recomputing the links after an edit: without it
no hash of an edited chain can be made to verify. The key holder could recompute them;
against that, the heads are signed into checkpoints kept outside the database
(audit/checkpoints.py), and a chain that no longer contains a checkpointed head fails
verification. Links made before the key (migration 0004) were re-sealed under it as far
as their chain verified unkeyed.

Hashed fields. ``HASHED_FIELDS`` fixes, per record type, the columns that go into a
record's canonical form; it is not taken from the model at run time. LogEntry belongs
to django-auditlog: a release that added a column would otherwise change the digest of
every entry already stored, and verification would report the whole history as
tampered with. The lists equal the columns the records have had since the chain was
introduced, so stored hashes still verify, and tests/test_audit.py fails when a
model's columns and its list differ: an upgrade or a new column is decided on in
review, not found out by the nightly verification. A column added to AccessEvent after
events exist goes into its list and into ``chain_optional_fields`` (left out of the
form while null, so older events keep their digest).

Concurrency and throughput. Appending reads the chain's last link and writes the next
one; two writers must not read the same last link. On PostgreSQL each chain has a
transaction-scoped advisory lock (``pg_advisory_xact_lock``) taken before reading, held
to commit, so appends to one chain are serialised and the next writer, under READ
COMMITTED, reads the committed last link. On SQLite every transaction begins
IMMEDIATE (see settings), which serialises writers on the whole database. The unique
constraint on (chain, seq) refuses a fork whatever happens.

Holding a chain's lock until commit makes every transaction that audits queue on that
chain. ``SSPF_AUDIT_CHAINS`` (default 1) sets how many independent chains there are.
Each transaction takes the next chain from a counter of its process (round robin,
starting at a point that depends on the process id) and keeps it for every record it
writes: a transaction holding one chain's lock never waits for another's, so writers
cannot deadlock, and with N chains up to N transactions append at once. The choice is
forgotten when the transaction ends, and when a savepoint around the first record is
rolled back (PostgreSQL releases a lock taken inside a savepoint that is rolled back).
Each chain is verified on its own and ``audit_head`` prints one head per chain. Raising
N later is safe (new chains start at their genesis); lowering it leaves the higher
chains closed but still verifiable.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction

from audit.models import AccessEvent, ChainLink

GENESIS = "0" * 64
RECORD_LABELS = {"access": "access event", "change": "change entry"}
_LOCK_NAMESPACE = 0x55F0_0000  # advisory lock ids: namespace + chain number


def chain_count() -> int:
    return max(1, int(getattr(settings, "SSPF_AUDIT_CHAINS", 1)))


_next_chain = itertools.count(os.getpid())  # next() on a count is atomic under the GIL


def _pick_chain() -> int:
    """The chain of the current transaction; call inside the atomic block that writes.

    The choice is kept with a no-op commit hook: Django drops the hook when the
    transaction commits or rolls back, or when the savepoint it was registered in is
    rolled back, and then the next record picks again."""
    kept = getattr(connection, "_sspf_audit_chain", None)
    if kept is not None:
        hook, chain = kept
        if any(func is hook for _sids, func, _robust in connection.run_on_commit):
            return chain

    def hook():
        pass

    chain = next(_next_chain) % chain_count()
    transaction.on_commit(hook)
    connection._sspf_audit_chain = (hook, chain)
    return chain


def _canonical_value(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


# Column names (attnames) per model, see the module docstring.
HASHED_FIELDS = {
    "audit.AccessEvent": (
        "id", "occurred_at", "actor_id", "actor_username", "actor_org_id", "actor_role",
        "action", "outcome", "object_type", "object_id", "case_id", "youth_id", "purpose",
        "request_id", "ip", "user_agent", "path", "flags",
    ),
    "auditlog.LogEntry": (
        "id", "content_type_id", "object_pk", "object_id", "object_repr", "serialized_data",
        "action", "changes_text", "changes", "actor_id", "cid", "remote_addr",
        "remote_port", "timestamp", "additional_data", "actor_email",
    ),
}


def record_digest(obj) -> str:
    """SHA-256 of a record's canonical form: its ``HASHED_FIELDS``, sorted keys.

    Each value goes through its field's ``to_python`` first, so the value held in memory
    at write time and the value read back from the database give the same form (an
    IPv6 address, for one, is stored in Django's normal form whatever was passed)."""
    optional = getattr(obj, "chain_optional_fields", ())
    columns = {field.attname: field for field in obj._meta.concrete_fields}
    data = {}
    for name in HASHED_FIELDS[obj._meta.label]:
        value = getattr(obj, name)
        if value is None and name in optional:
            continue
        data[name] = _canonical_value(None if value is None else columns[name].to_python(value))
    payload = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                         default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def link_hash(*, chain: int, seq: int, record_type: str, record_id: int, digest: str,
              prev_hash: str) -> str:
    material = f"{chain}|{seq}|{record_type}|{record_id}|{digest}|{prev_hash}"
    return hmac.new(settings.SSPF_AUDIT_KEY, material.encode("ascii"),
                    hashlib.sha256).hexdigest()


def _lock(chain: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_NAMESPACE + chain])


def append_many(record_type: str, objs: list) -> None:
    """Link several freshly saved records, in order, under one lock."""
    if not objs:
        return
    with transaction.atomic():
        chain = _pick_chain()
        _lock(chain)
        last = (
            ChainLink.objects.filter(chain=chain).order_by("-seq").values("seq", "hash").first()
        )
        seq = last["seq"] if last else 0
        prev = last["hash"] if last else GENESIS
        links = []
        for obj in objs:
            seq += 1
            digest = record_digest(obj)
            current = link_hash(chain=chain, seq=seq, record_type=record_type,
                                record_id=obj.pk, digest=digest, prev_hash=prev)
            links.append(ChainLink(chain=chain, seq=seq, record_type=record_type,
                                   record_id=obj.pk, prev_hash=prev, hash=current))
            prev = current
        ChainLink.objects.bulk_create(links)


def append(record_type: str, obj, *, reread: bool = False) -> ChainLink:
    """Link a freshly saved record into a chain, in the caller's transaction.

    ``reread`` hashes the row as the database returns it, for records written by code
    we do not control (django-auditlog keeps some values in memory in another type
    than the one read back)."""
    if reread:
        obj = type(obj)._base_manager.get(pk=obj.pk)
    digest = record_digest(obj)
    with transaction.atomic():
        chain = _pick_chain()
        _lock(chain)
        last = (
            ChainLink.objects.filter(chain=chain).order_by("-seq").values("seq", "hash").first()
        )
        seq = last["seq"] + 1 if last else 1
        prev = last["hash"] if last else GENESIS
        return ChainLink.objects.create(
            chain=chain,
            seq=seq,
            record_type=record_type,
            record_id=obj.pk,
            prev_hash=prev,
            hash=link_hash(chain=chain, seq=seq, record_type=record_type, record_id=obj.pk,
                           digest=digest, prev_hash=prev),
        )


def _record_models():
    from auditlog.models import LogEntry

    return {ChainLink.RecordType.ACCESS: AccessEvent, ChainLink.RecordType.CHANGE: LogEntry}


@dataclass
class Verification:
    ok: bool
    links: int
    chains: int
    problem: str = ""
    broken_link_id: int | None = None
    broken_record: str = ""


def heads() -> dict[int, tuple[int, str]]:
    """{chain: (seq, hash)} of every chain's last link."""
    result = {}
    for chain in ChainLink.objects.values_list("chain", flat=True).distinct().order_by("chain"):
        last = ChainLink.objects.filter(chain=chain).order_by("-seq").first()
        result[chain] = (last.seq, last.hash)
    return result


def verify(*, expect_heads: list[str] | None = None, start: dict | None = None,
           until: dict | None = None, batch: int = 2000) -> Verification:
    """Walk every chain from its genesis and report the first broken link.

    ``start`` (``{chain: (seq, hash)}``, a checkpoint's heads) walks only the links
    after those positions, each of which must still hold its hash; the check for
    records outside every chain is left to the full walk. ``until`` (heads read before
    the walk) walks only those chains and only up to those positions, so what is signed
    afterwards is exactly what was verified."""
    models = _record_models()
    total = 0
    chains = list(
        ChainLink.objects.values_list("chain", flat=True).distinct().order_by("chain")
    )
    wanted = _parse_expected(expect_heads or [])
    wanted_hashes = {head for _chain, head in wanted}
    found: set[tuple[int, str]] = set()
    if until is not None:
        chains = [c for c in chains if c in until]
    gone = sorted(set(start or {}) - set(chains))
    if gone:
        return Verification(ok=False, links=0, chains=len(chains),
                            problem=f"chain {gone[0]}, checkpointed at link "
                                    f"{start[gone[0]][0]}, is gone")
    for chain in chains:
        prev, expected_seq = GENESIS, 1
        links = ChainLink.objects.filter(chain=chain).order_by("seq")
        if until is not None:
            links = links.filter(seq__lte=until[chain][0])
        last_seq = 0
        if start and chain in start:
            last_seq, prev = start[chain]
            expected_seq = last_seq + 1
            if not links.filter(seq=last_seq, hash=prev).exists():
                return Verification(
                    ok=False, links=total, chains=len(chains),
                    problem=f"chain {chain}, link {last_seq}: not the link last checkpointed",
                )
        while True:
            page = list(links.filter(seq__gt=last_seq)[:batch])
            if not page:
                break
            records = {}
            for record_type, model in models.items():
                ids = [ln.record_id for ln in page if ln.record_type == record_type]
                if ids:
                    records.update(
                        {(record_type, r.pk): r for r in model.objects.filter(pk__in=ids)}
                    )
            for link in page:
                label = f"{RECORD_LABELS[link.record_type]} {link.record_id}"
                record = records.get((link.record_type, link.record_id))
                problem = None
                if link.seq != expected_seq:
                    problem = f"position {expected_seq} is missing"
                elif link.prev_hash != prev:
                    problem = "does not follow the previous link"
                elif record is None:
                    problem = f"its record ({label}) is missing"
                elif link.hash != link_hash(
                    chain=chain, seq=link.seq, record_type=link.record_type,
                    record_id=link.record_id, digest=record_digest(record), prev_hash=prev,
                ):
                    problem = f"its record ({label}) does not match the hash"
                if problem:
                    return Verification(
                        ok=False, links=total, chains=len(chains),
                        problem=f"chain {chain}, link {link.seq}: {problem}",
                        broken_link_id=link.pk, broken_record=label,
                    )
                if link.hash in wanted_hashes:
                    found.add((chain, link.hash))
                prev, expected_seq, last_seq = link.hash, expected_seq + 1, link.seq
                total += 1

    unlinked = "" if start else _unlinked_records(models)
    if unlinked:
        return Verification(ok=False, links=total, chains=len(chains),
                            problem=f"{unlinked} is not in any chain", broken_record=unlinked)
    for chain, head in wanted:
        if not any(h == head and (chain is None or c == chain) for c, h in found):
            where = f"chain {chain}" if chain is not None else "any chain"
            return Verification(
                ok=False, links=total, chains=len(chains),
                problem=f"expected head {head} is not in {where}: the log was cut or rewritten",
            )
    return Verification(ok=True, links=total, chains=len(chains))


def _parse_expected(values: list[str]) -> list[tuple[int | None, str]]:
    parsed = []
    for value in values:
        chain, sep, head = value.strip().rpartition(":")
        if sep:
            parsed.append((int(chain), head.lower()))
        else:
            parsed.append((None, head.lower()))
    return parsed


def _unlinked_records(models) -> str:
    for record_type, model in models.items():
        linked = ChainLink.objects.filter(record_type=record_type).values("record_id")
        stray = model.objects.exclude(pk__in=linked).order_by("pk").values_list("pk", flat=True)
        first = stray.first()
        if first is not None:
            return f"{RECORD_LABELS[record_type]} {first}"
    return ""

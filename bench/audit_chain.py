"""Benchmark of the audit chain: writing events, the full verification, and the
incremental verification and signing of a checkpoint.

    python -m bench.audit_chain [--events 5000] [--database-url postgres://…]

Runs on a throw-away test database (SQLite in memory by default, or a fresh
``test_…`` database beside the one a PostgreSQL URL names) with the test settings'
keys, and prints milliseconds. A target to keep: the hourly checkpoint of an hour's
events costs well under a second, and the nightly full walk stays linear in the log.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sspf.settings_test")
    os.environ["SSPF_AUDIT_CHECKPOINT_DIR"] = tempfile.mkdtemp(prefix="bench-checkpoints-")

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    name = connection.creation.create_test_db(verbosity=0)
    try:
        _run(args.events)
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


def _timed(label: str, func, per: int | None = None):
    start = time.perf_counter()
    result = func()
    ms = (time.perf_counter() - start) * 1000
    extra = f"  ({ms / per:.3f} ms each)" if per else ""
    print(f"{label:<46} {ms:10.1f} ms{extra}")
    return result


def _run(events: int) -> None:
    from django.db import transaction

    import audit
    from audit import chain, checkpoints
    from audit.models import Action

    def write(n):
        for i in range(n):
            with transaction.atomic():
                audit.record(action=Action.VIEW, object_type="cases.Case", object_id=i)

    def write_many(n):
        with transaction.atomic():
            audit.record_many([{"action": Action.VIEW, "object_type": "cases.Entry",
                                "object_id": i} for i in range(n)])

    _timed(f"record() x {events}, one transaction each", lambda: write(events), per=events)
    _timed(f"record_many() of {events}", lambda: write_many(events), per=events)
    result = _timed(f"verify() of {chain.verify().links} links", chain.verify)
    assert result.ok, result.problem
    _timed("first checkpoint (walks everything)", checkpoints.write)
    write(events // 10)
    _timed(f"next checkpoint after {events // 10} events", checkpoints.write)
    count, problem = _timed("checkpoint file check", checkpoints.verify_file)
    assert not problem, problem
    print(f"{count} checkpoints, chain of {chain.verify().links} links")


if __name__ == "__main__":
    main()

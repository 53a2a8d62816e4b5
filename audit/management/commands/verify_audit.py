import sys

from django.core.management.base import BaseCommand
from django.db import connection

from audit import chain, checkpoints, triggers


class Command(BaseCommand):
    help = (
        "Verifies every audit hash chain and every signed checkpoint of it; names the first "
        "broken link and exits 1. --checkpoint signs a new checkpoint when all is well."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect-head",
            action="append",
            default=[],
            metavar="[CHAIN:]HASH",
            help="a head printed earlier by audit_head and kept outside the database; "
            "it must still be in the chain",
        )
        parser.add_argument(
            "--checkpoint",
            action="store_true",
            help="after a successful verification, sign the heads into a new checkpoint",
        )

    def handle(self, *args, expect_head, checkpoint, **options):
        result = chain.verify(expect_heads=expect_head)
        absent = triggers.missing(connection)
        count, problem = checkpoints.verify_file() if result.ok else (0, "")
        problems = []
        if absent:
            problems.append(f"append-only trigger(s) missing or altered: {', '.join(absent)}")
        if problem:
            problems.append(f"checkpoints: {problem}")
        for line in problems:
            self.stderr.write(f"BROKEN: {line}")
        if result.ok and not problems:
            self.stdout.write(
                f"OK: {result.links} links verified in {result.chains} chain(s), "
                f"against {count} signed checkpoint(s)."
            )
            if checkpoint:
                try:
                    written = checkpoints.write()
                except checkpoints.CheckpointError as exc:
                    self.stderr.write(f"No checkpoint written: {exc}")
                    sys.exit(1)
                self.stdout.write(f"Checkpoint {written.n} written to {checkpoints.path()}.")
            return
        if not result.ok:
            self.stderr.write(f"BROKEN: {result.problem}")
            if result.broken_link_id is not None:
                self.stderr.write(f"First broken link id: {result.broken_link_id}")
            self.stderr.write(f"{result.links} links verified before the break.")
        else:
            self.stderr.write(f"{result.links} links verified.")
        sys.exit(1)

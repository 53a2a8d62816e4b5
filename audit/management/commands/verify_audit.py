import sys

from django.core.management.base import BaseCommand
from django.db import connection

from audit import chain, triggers


class Command(BaseCommand):
    help = "Verifies every audit hash chain; names the first broken link and exits 1."

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect-head",
            action="append",
            default=[],
            metavar="[CHAIN:]HASH",
            help="a head printed earlier by audit_head and kept outside the database; "
            "it must still be in the chain",
        )

    def handle(self, *args, expect_head, **options):
        result = chain.verify(expect_heads=expect_head)
        absent = triggers.missing(connection)
        if absent:
            self.stderr.write(
                f"BROKEN: append-only trigger(s) missing or altered: {', '.join(absent)}")
        if result.ok and not absent:
            self.stdout.write(
                f"OK: {result.links} links verified in {result.chains} chain(s)."
            )
            return
        if not result.ok:
            self.stderr.write(f"BROKEN: {result.problem}")
            if result.broken_link_id is not None:
                self.stderr.write(f"First broken link id: {result.broken_link_id}")
            self.stderr.write(f"{result.links} links verified before the break.")
        else:
            self.stderr.write(f"{result.links} links verified.")
        sys.exit(1)

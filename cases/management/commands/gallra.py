"""``manage.py gallra [--dry-run]``: the daily gallring by hand. With ``--dry-run`` it
lists what is past its retention period (counts per municipality and case ids) and
erases nothing; without, it erases and records one audit event per case."""

from django.core.management.base import BaseCommand

from cases.services import gallring


class Command(BaseCommand):
    help = "Gallra ärenden som avslutades för längre sedan än kommunens gallringsfrist."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true",
                            help="Visa vad som skulle gallras, utan att gallra.")

    def handle(self, *args, dry_run=False, **options):
        due = gallring.due()
        if dry_run:
            if not due:
                self.stdout.write("Inget att gallra.")
            for item in due:
                ids = ", ".join(f"#{pk}" for pk in item.case_ids) or "–"
                self.stdout.write(
                    f"{item.municipality.name}: {len(item.case_ids)} ärenden ({ids}), "
                    f"{len(item.signal_ids)} orosignaler utan ärende")
            return
        result = gallring.run()
        self.stdout.write(self.style.SUCCESS(
            f"Gallrat: {result['cases']} ärenden, {result['signals']} orosignaler utan ärende."))

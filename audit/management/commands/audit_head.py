from django.core.management.base import BaseCommand

from audit import chain


class Command(BaseCommand):
    help = (
        "Prints the head of each audit chain as CHAIN:HASH (with its position), to be kept "
        "outside the database and given back to verify_audit --expect-head."
    )

    def handle(self, *args, **options):
        heads = chain.heads()
        if not heads:
            self.stdout.write("The audit log is empty.")
        for number, (seq, digest) in heads.items():
            self.stdout.write(f"{number}:{digest}  (link {seq})")

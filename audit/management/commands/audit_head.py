from django.core.management.base import BaseCommand

from audit import chain, checkpoints


class Command(BaseCommand):
    help = (
        "Prints the head of each audit chain as CHAIN:HASH (with its position), to be kept "
        "outside the database and given back to verify_audit --expect-head; "
        "--public-key prints the public key that verifies the signed checkpoints."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--public-key",
            action="store_true",
            help="print the checkpoint signing key's public half (base64) and its id",
        )

    def handle(self, *args, public_key, **options):
        if public_key:
            self.stdout.write(
                f"{checkpoints.public_key()}  (key id {checkpoints.signing_key_id()})")
            return
        heads = chain.heads()
        if not heads:
            self.stdout.write("The audit log is empty.")
        for number, (seq, digest) in heads.items():
            self.stdout.write(f"{number}:{digest}  (link {seq})")

"""Create the demo: municipalities Demo and Grannby, their fictional accounts and a
few fictional cases. Safe to run again: it keeps what exists, and an account's TOTP
secret stays the same between runs. All people in the demo are fictional. Refused in
production."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases.demo import demo_youth_numbers, seed_demo_cases
from sspf.demo import DEFAULT_DEMO_PASSWORD, seed_accounts


class Command(BaseCommand):
    help = "Skapar demokommunen med fiktiva konton och ärenden (idempotent)."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo is refused when SSPF_ENV=production.")
        password = os.environ.get("DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD
        rows = seed_accounts(password)
        created = seed_demo_cases()
        self.stdout.write("Demo accounts (all people in the demo are fictional):")
        shown = "$DEMO_PASSWORD" if "DEMO_PASSWORD" in os.environ else DEFAULT_DEMO_PASSWORD
        self.stdout.write(f"  password: {shown}")
        for username, secret in rows:
            self.stdout.write(f"  {username:<18} TOTP secret {secret}")
        self.stdout.write(
            "Add the secret to an authenticator app (time-based, 6 digits, 30 s) to log in."
        )
        if created:
            self.stdout.write(f"Created {created} demo case(s) with fictional people.")
        self.stdout.write("Demo young people (identity numbers from Skatteverket's test series):")
        for name, number in demo_youth_numbers():
            self.stdout.write(f"  {name:<22} {number}")

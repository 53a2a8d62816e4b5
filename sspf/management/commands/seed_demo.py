"""Create the demo municipality and its fictional accounts. Safe to run again: it
keeps what exists, and an account's TOTP secret stays the same between runs.

All people in the demo are fictional. Refused in production."""

from __future__ import annotations

import base64
import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from sspf.models import Municipality, Organisation
from sspf.roles import Role
from sspf.services import staff_account_save

DEFAULT_DEMO_PASSWORD = "demo-sspf-2026"  # noqa: S105 - documented in README, demo only

K = Organisation.Kind
# (username, organisation, kind, role, municipality)
DEMO_ACCOUNTS = [
    ("koordinator", "SSPF-samordningen", K.COORDINATION, Role.COORDINATOR, "Demo"),
    ("socialsekreterare", "Socialtjänsten", K.SOCIAL_SERVICES, Role.SOCIAL_WORKER, "Demo"),
    ("skolkurator", "Kvarnbackaskolan", K.SCHOOL, Role.SCHOOL_STAFF, "Demo"),
    ("rektor2", "Ängabyskolan", K.SCHOOL, Role.SCHOOL_STAFF, "Demo"),
    ("fritidsledare", "Fritidsgården Mötesplatsen", K.LEISURE, Role.LEISURE_STAFF, "Demo"),
    ("polis", "Lokalpolisområdet", K.POLICE, Role.POLICE, "Demo"),
    ("revisor", "Dataskyddsfunktionen", K.OTHER, Role.AUDITOR, "Demo"),
    ("analytiker", "Säkerhetsenheten", K.OTHER, Role.LAGESBILD_ANALYST, "Demo"),
    ("admin", None, None, Role.ADMINISTRATOR, None),
    ("koordinator2", "SSPF Grannby", K.COORDINATION, Role.COORDINATOR, "Grannby"),
]


def totp_secret(device: TOTPDevice) -> str:
    return base64.b32encode(device.bin_key).decode().rstrip("=")


class Command(BaseCommand):
    help = "Skapar demokommunen med fiktiva konton (idempotent)."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo is refused when SSPF_ENV=production.")
        password = os.environ.get("DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD
        rows = self.seed(password)
        self.stdout.write("Demo accounts (all people in the demo are fictional):")
        shown = "$DEMO_PASSWORD" if "DEMO_PASSWORD" in os.environ else DEFAULT_DEMO_PASSWORD
        self.stdout.write(f"  password: {shown}")
        for username, secret in rows:
            self.stdout.write(f"  {username:<18} TOTP secret {secret}")
        self.stdout.write(
            "Add the secret to an authenticator app (time-based, 6 digits, 30 s) to log in."
        )

    @transaction.atomic
    def seed(self, password: str) -> list[tuple[str, str]]:
        rows = []
        for username, org_name, kind, role, municipality_name in DEMO_ACCOUNTS:
            organisation = None
            if org_name:
                municipality, _ = Municipality.objects.get_or_create(name=municipality_name)
                organisation, _ = Organisation.objects.get_or_create(
                    municipality=municipality, name=org_name, defaults={"kind": kind}
                )
            user = staff_account_save(
                username=username,
                role=role,
                organisation=organisation,
                is_superuser=role == Role.ADMINISTRATOR,
            )
            if not user.has_usable_password() or not user.check_password(password):
                user.set_password(password)
                user.save(update_fields=["password"])
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            if device is None:
                device = TOTPDevice.objects.create(user=user, name="Demo", confirmed=True)
            rows.append((username, totp_secret(device)))
        return rows

"""The demo municipality's fictional accounts (see README). Used by seed_demo."""

from __future__ import annotations

import base64

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from sspf.models import Municipality, Organisation
from sspf.roles import Role
from sspf.services import staff_account_save

DEFAULT_DEMO_PASSWORD = "demo-sspf-2026"  # noqa: S105 - documented in README, demo only

DEMO_AREAS = ["Centrum", "Kvarnbacka", "Ängaby", "Norra"]
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



@transaction.atomic
def seed_accounts(password: str) -> list[tuple[str, str]]:
    """Create what is missing; keep passwords that still match and TOTP secrets."""
    rows = []
    for username, org_name, kind, role, municipality_name in DEMO_ACCOUNTS:
        organisation = None
        if org_name:
            municipality, _ = Municipality.objects.get_or_create(
                name=municipality_name, defaults={"areas": DEMO_AREAS}
            )
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

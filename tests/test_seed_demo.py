import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from sspf.models import Municipality, User
from sspf.roles import Role

pytestmark = pytest.mark.django_db

EXPECTED = {
    "koordinator": ("SSPF-samordningen", "coordination", Role.COORDINATOR, "Demo"),
    "socialsekreterare": ("Socialtjänsten", "social_services", Role.SOCIAL_WORKER, "Demo"),
    "skolkurator": ("Kvarnbackaskolan", "school", Role.SCHOOL_STAFF, "Demo"),
    "rektor2": ("Ängabyskolan", "school", Role.SCHOOL_STAFF, "Demo"),
    "fritidsledare": ("Fritidsgården Mötesplatsen", "leisure", Role.LEISURE_STAFF, "Demo"),
    "polis": ("Lokalpolisområdet", "police", Role.POLICE, "Demo"),
    "revisor": ("Dataskyddsfunktionen", "other", Role.AUDITOR, "Demo"),
    "analytiker": ("Säkerhetsenheten", "other", Role.LAGESBILD_ANALYST, "Demo"),
    "admin": (None, None, Role.ADMINISTRATOR, None),
    "koordinator2": ("SSPF Grannby", "coordination", Role.COORDINATOR, "Grannby"),
}


def seed(monkeypatch, password="demo-lösenord-1"):  # noqa: S107
    monkeypatch.setenv("DEMO_PASSWORD", password)
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_creates_exactly_the_demo_accounts(monkeypatch):
    seed(monkeypatch)
    assert set(User.objects.values_list("username", flat=True)) == set(EXPECTED)
    for username, (org, kind, role, municipality) in EXPECTED.items():
        user = User.objects.get(username=username)
        assert user.role == role
        assert list(user.groups.values_list("name", flat=True)) == [str(role)]
        if org is None:
            assert user.organisation is None
            assert user.is_superuser
        else:
            assert (user.organisation.name, user.organisation.kind) == (org, kind)
            assert user.organisation.municipality.name == municipality
            assert not user.is_superuser
        assert user.check_password("demo-lösenord-1")
    assert set(Municipality.objects.values_list("name", flat=True)) == {"Demo", "Grannby"}


def test_seed_is_idempotent_and_keeps_totp_secrets(monkeypatch):
    first = seed(monkeypatch)
    second = seed(monkeypatch)
    assert "Created 4 demo case(s)" in first
    assert first.replace("Created 4 demo case(s) with fictional people.\n", "") == second
    assert User.objects.count() == len(EXPECTED)
    assert TOTPDevice.objects.count() == len(EXPECTED)
    from cases.models import Case, Entry, Guardian

    assert Case.objects.count() == 4
    assert Guardian.objects.count() == 4
    assert Entry.objects.count() == 9


def test_printed_secret_logs_in_with_an_authenticator(client, monkeypatch):
    output = seed(monkeypatch)
    line = next(ln for ln in output.splitlines() if ln.strip().startswith("skolkurator "))
    secret = line.split()[-1]
    import base64

    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    client.post(reverse("login"), {"username": "skolkurator", "password": "demo-lösenord-1"})
    response = client.post(reverse("otp_verify"), {"code": f"{totp(key):06d}"})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_seed_is_refused_in_production(settings, monkeypatch):
    from django.core.management.base import CommandError

    settings.PRODUCTION = True
    with pytest.raises(CommandError):
        seed(monkeypatch)
    assert not User.objects.exists()


def test_role_groups_exist_with_permissions():
    names = set(Group.objects.values_list("name", flat=True))
    assert names >= {str(r) for r in Role}
    admin_perms = set(
        Group.objects.get(name="administrator").permissions.values_list("codename", flat=True)
    )
    assert {"add_user", "change_organisation"} <= admin_perms
    assert not Group.objects.get(name="lagesbild_analyst").permissions.filter(
        codename="view_user"
    ).exists()


def test_accounts_are_never_deleted(monkeypatch):
    from django.core.exceptions import ValidationError

    seed(monkeypatch)
    user = User.objects.get(username="polis")
    with pytest.raises(ValidationError):
        user.delete()
    assert User.objects.filter(username="polis").exists()


def test_demo_numbers_follow_the_test_series():
    from datetime import date

    from cases.demo import test_series_number

    # 2017-01-01, male: a number of Skatteverket's published series.
    assert test_series_number(date(2017, 1, 1), "M") == "20170101-2393"
    assert test_series_number(date(2017, 1, 1), "F")[9:12] == "238"


def test_demo_ages_hold_whatever_the_year_and_a_later_seed_finds_the_same_people(
        monkeypatch):
    import datetime as dt

    import time_machine
    from django.utils import timezone

    from cases.models import Case
    from sspf.personnummer import parse

    with time_machine.travel(dt.datetime(2031, 5, 2, 9, 0, tzinfo=dt.UTC), tick=False):
        output = seed(monkeypatch)
        numbers = dict(line.rsplit(None, 1) for line in output.splitlines()
                       if line.startswith("  ") and line.strip()[-5:-4] == "-")
        ages = {name.split()[0]: parse(number).age_on(timezone.localdate())
                for name, number in ((n.strip(), v) for n, v in numbers.items())}
    assert ages == {"Elsa": 15, "Omar": 16, "Nora": 14, "Alva": 13}
    assert Case.objects.count() == 4

    with time_machine.travel(dt.datetime(2033, 1, 9, 9, 0, tzinfo=dt.UTC), tick=False):
        again = seed(monkeypatch)
    assert "Created" not in again
    assert Case.objects.count() == 4

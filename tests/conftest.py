import pytest
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from sspf.roles import Role
from tests.factories import OrganisationFactory, make_staff


@pytest.fixture
def coordinator(db):
    return make_staff("alice", role=Role.COORDINATOR)


@pytest.fixture
def school_staff(db):
    return make_staff("bob", role=Role.SCHOOL_STAFF, organisation=OrganisationFactory())


class AuditTablesFlushable:
    """For TransactionTestCase: its flush after each test empties tables the append-only
    triggers guard, so they are lifted for the flush alone."""

    def _fixture_teardown(self):
        from django.db import connection

        from audit import triggers

        triggers.remove(connection)
        try:
            super()._fixture_teardown()
        finally:
            triggers.install(connection)


def log_in_verified(client, user):
    """Log in as if password and TOTP had both been given (the full flow is tested in
    tests/test_login.py)."""
    client.force_login(user)
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def verified_client(client):
    def _login(user):
        return log_in_verified(client, user)

    return _login


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from tests.crypto_models import SecretNote

    with django_db_blocker.unblock():
        with connection.schema_editor() as editor:
            editor.create_model(SecretNote)
        ContentType.objects.get_for_model(SecretNote)  # committed, so its cached id stays valid
    yield


class DemoWorld:
    """The seeded demo: accounts by username, the four demo cases by youth first name
    (Elsa, Omar, Nora in Demo; Alva in Grannby) and the people's identity numbers by first
    name (they depend on the day the demo is seeded, see cases/demo.py)."""

    def __init__(self):
        from cases.models import Case
        from sspf.models import User

        self.users = {u.username: u for u in User.objects.select_related("organisation")}
        self.cases = {}
        self.pnr = {}  # identity numbers of youths and guardians, by first name
        for case in Case.objects.select_related("youth"):
            self.cases[case.youth.first_name] = case
            for person in (case.youth, *case.youth.guardians.all()):
                self.pnr[person.first_name] = person.personnummer

    def __getitem__(self, username):
        return self.users[username]


@pytest.fixture
def demo(db, monkeypatch):
    import io

    from django.core.management import call_command

    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-for-tests")
    call_command("seed_demo", stdout=io.StringIO())
    return DemoWorld()


@pytest.fixture
def api_client():
    """``api_client(user)`` gives a DRF test client sending a fresh token of ``user``."""
    from rest_framework.test import APIClient

    from sspf.tokens import issue_token

    def _make(user):
        _token, key = issue_token(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return _make


def personal_strings(case) -> list[str]:
    """Every personal value of a case's youth and guardians, and its entries' text, for
    asserting that a response does not leak them."""
    from cases.models import Entry

    values = []
    people = [case.youth, *case.youth.guardians.all()]
    for person in people:
        number = person.personnummer
        values += [person.first_name, person.last_name, number, number.replace("-", "")[2:8],
                   f"{number[:4]}-{number[4:6]}-{number[6:8]}"]  # the birth date as shown
        values += [v for v in (person.address, person.phone) if v]
    values += [e.text[:30] for e in Entry.objects.filter(case=case)]
    return values

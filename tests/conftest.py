import itertools
import os
from contextlib import contextmanager

import pytest
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from sspf.roles import Role
from tests.factories import OrganisationFactory, make_staff

_checkpoint_folders = itertools.count(1)


@pytest.fixture(autouse=True)
def _own_checkpoint_folder(tmp_path_factory):
    """Checkpoint files live outside the database and survive its rollback: each test
    gets a folder of its own (made only when a checkpoint is written)."""
    from django.test import override_settings

    base = tmp_path_factory.getbasetemp() / "checkpoints"
    with override_settings(SSPF_AUDIT_CHECKPOINT_DIR=base / str(next(_checkpoint_folders))):
        yield


@pytest.fixture
def coordinator(db):
    return make_staff("alice", role=Role.COORDINATOR)


@pytest.fixture
def world(db):
    """A municipality with one case worker of each partner kind (tests/factories.World)."""
    from tests.factories import World

    return World()


@pytest.fixture
def school_staff(db):
    return make_staff("bob", role=Role.SCHOOL_STAFF, organisation=OrganisationFactory())


# On PostgreSQL the suite may act as the restricted application role (audit/database.py):
# .ci/run sets SSPF_TEST_DB_APP_ROLE. The test database is created and migrated as the
# connecting owner; from then on every connection does SET ROLE, and what needs the
# owner (lifting triggers, flushing tables) goes through as_database_owner().
APP_ROLE = os.environ.get("SSPF_TEST_DB_APP_ROLE", "")


def _acting_as_app(connection) -> bool:
    return bool(APP_ROLE) and connection.vendor == "postgresql"


def _set_app_role(sender=None, connection=None, **kwargs):
    if _acting_as_app(connection):
        with connection.cursor() as cursor:
            cursor.execute(f"SET ROLE {connection.ops.quote_name(APP_ROLE)}")


@contextmanager
def as_database_owner(connection=None):
    """The block runs as the database owner (on PostgreSQL with the restricted role;
    elsewhere it changes nothing): for tests that tamper with triggers or tables."""
    if connection is None:
        from django.db import connection
    if not _acting_as_app(connection):
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
    try:
        yield
    finally:
        _set_app_role(connection=connection)


@pytest.fixture
def database_owner(db):
    """The test runs as the database owner: for tests that tamper with the audit tables
    as an attacker holding the database would (the role is back after the test, whose
    transaction rolls the RESET ROLE back)."""
    from django.db import connection

    if _acting_as_app(connection):
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    yield


class AuditTablesFlushable:
    """For TransactionTestCase: its flush after each test empties tables the append-only
    triggers guard, so they are lifted for the flush alone (as the owner)."""

    def _fixture_teardown(self):
        from django.db import connection

        from audit import triggers

        with as_database_owner(connection):
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
    from django.db.backends.signals import connection_created

    from audit import database
    from tests.crypto_models import ProbeItem, SecretNote

    with django_db_blocker.unblock():
        with connection.schema_editor() as editor:
            editor.create_model(SecretNote)
            editor.create_model(ProbeItem)
        for model in (SecretNote, ProbeItem):  # committed, so their cached ids stay valid
            ContentType.objects.get_for_model(model)
        if _acting_as_app(connection):
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE])
                if cursor.fetchone() is None:
                    cursor.execute(f"CREATE ROLE {connection.ops.quote_name(APP_ROLE)}")
            database.grant(connection, role=APP_ROLE)
            connection_created.connect(_set_app_role, dispatch_uid="sspf-test-app-role")
            _set_app_role(connection=connection)
    yield
    with django_db_blocker.unblock():
        if _acting_as_app(connection):
            connection_created.disconnect(dispatch_uid="sspf-test-app-role")
            with connection.cursor() as cursor:
                cursor.execute("RESET ROLE")


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

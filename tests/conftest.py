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

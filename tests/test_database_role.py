"""On PostgreSQL the application connects as a role that may only INSERT and SELECT on
the audit tables and owns nothing; migrate (as the owner) grants it that, and
``manage.py check`` warns when the connecting role may do more."""

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

import audit
from audit import database
from audit.checks import audit_role_restricted
from audit.models import AccessEvent, Action
from tests.conftest import APP_ROLE

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="roles and grants are PostgreSQL's")

ROLE = "sspf_test_restricted"


@pytest.fixture
def restricted(database_owner):
    """A role of this test alone (rolled back with the test), granted by migrate's
    grant, and the connection acting as it."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {ROLE}")
    assert database.grant(connection, role=ROLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {ROLE}")
    yield


def refused(sql, params=()):
    with (pytest.raises(DatabaseError) as exc, transaction.atomic(),
          connection.cursor() as cursor):
        cursor.execute(sql, params)
    return str(exc.value)


@postgresql_only
def test_the_restricted_role_adds_and_reads_audit_events_and_can_do_nothing_else(restricted):
    event = audit.record(action=Action.VIEW, object_id=1)
    assert AccessEvent.objects.filter(pk=event.pk).exists()
    for table in database.audit_tables():
        for sql in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}",  # noqa: S608
                    f"TRUNCATE {table}", f"ALTER TABLE {table} DISABLE TRIGGER ALL"):
            message = refused(sql)
            assert "permission denied" in message or "must be owner" in message, sql
    assert "permission denied" in refused("SET session_replication_role = replica")
    assert database.problems() == []
    assert audit_role_restricted() == []


@postgresql_only
def test_the_restricted_role_still_writes_case_data(restricted):
    from tests.factories import MunicipalityFactory

    municipality = MunicipalityFactory()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE sspf_municipality SET name = name WHERE id = %s",
                       [municipality.pk])
        assert cursor.rowcount == 1


@postgresql_only
def test_check_warns_when_the_role_can_change_the_audit_log(database_owner):
    """The owner (here the superuser that created the test database) is what the
    application must not connect as."""
    (warning,) = audit_role_restricted()
    assert warning.id == "audit.W001"
    assert "is a superuser" in warning.msg
    assert "SSPF_DATABASE_APP_ROLE" in warning.hint


@postgresql_only
def test_check_names_a_privilege_granted_beyond_insert_and_select(restricted):
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute(f"GRANT UPDATE ON audit_chainlink TO {ROLE}")
        cursor.execute(f"SET ROLE {ROLE}")
    (warning,) = audit_role_restricted()
    assert f"{ROLE} may UPDATE on audit_chainlink" in warning.msg


@postgresql_only
def test_migrate_grants_the_configured_role(database_owner, settings):
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {ROLE}")
    settings.SSPF_DATABASE_APP_ROLE = ROLE
    call_command("migrate", "audit", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT has_table_privilege(%s, 'audit_accessevent', 'INSERT'), "
                       "has_table_privilege(%s, 'audit_accessevent', 'UPDATE'), "
                       "has_table_privilege(%s, 'sspf_municipality', 'UPDATE')",
                       [ROLE, ROLE, ROLE])
        assert cursor.fetchone() == (True, False, True)


@pytest.mark.skipif(not APP_ROLE or connection.vendor != "postgresql",
                    reason="the suite runs as the restricted role only where CI asks")
def test_the_suite_itself_runs_as_the_restricted_role():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == APP_ROLE
    assert database.problems() == []


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite has no roles")
def test_sqlite_has_no_roles_to_check():
    assert database.problems() == []
    assert audit_role_restricted() == []


# --- roles that could become the owner ---------------------------------------------


def _problems_as(role):
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {role}")
    return database.problems()


def _table_owner(table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableowner FROM pg_tables WHERE schemaname = current_schema() "
                       "AND tablename = %s", [table])
        return cursor.fetchone()[0]


@postgresql_only
@pytest.mark.usefixtures("database_owner")
def test_w001_warns_about_a_noinherit_member_of_the_owner():
    """A member of the owner that does not inherit its privileges may still SET ROLE to
    it and drop or disable the triggers."""
    owner = _table_owner("audit_accessevent")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {ROLE} NOINHERIT")
        cursor.execute(f"GRANT {connection.ops.quote_name(owner)} TO {ROLE}")
        database.grant(connection, role=ROLE)
        cursor.execute("SELECT pg_has_role(%s, %s, 'MEMBER'), pg_has_role(%s, %s, 'USAGE')",
                       [ROLE, owner, ROLE, owner])
        assert cursor.fetchone() == (True, False)  # SET ROLE owner is open to it
    assert any("acts as its owner" in p for p in _problems_as(ROLE))


@postgresql_only
@pytest.mark.usefixtures("database_owner")
def test_w001_warns_about_a_role_with_createrole():
    """On PostgreSQL 15 and older a CREATEROLE role may grant itself any non-superuser
    role, the tables' owner among them; problems() does not look at rolcreaterole."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int")
        if cursor.fetchone()[0] >= 160000:
            pytest.skip("PostgreSQL 16 limits what CREATEROLE may grant")
        cursor.execute("CREATE ROLE sspf_test_other_owner")
        cursor.execute("ALTER TABLE audit_accessevent OWNER TO sspf_test_other_owner")
        cursor.execute(f"CREATE ROLE {ROLE} CREATEROLE")
        database.grant(connection, role=ROLE)
    found = _problems_as(ROLE)
    with connection.cursor() as cursor:  # what the role can do, W001 or not
        cursor.execute(f"GRANT sspf_test_other_owner TO {ROLE}")
        cursor.execute("ALTER TABLE audit_accessevent DISABLE TRIGGER ALL")
    assert f"{ROLE} may create roles (and grant itself the owner's)" in found


@postgresql_only
@pytest.mark.usefixtures("database_owner")
def test_w001_warns_about_a_column_level_update_grant():
    """A privilege granted on some columns only counts like one on the whole table."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {ROLE}")
        database.grant(connection, role=ROLE)
        cursor.execute(f"GRANT UPDATE (purpose), REFERENCES (id) ON audit_accessevent TO {ROLE}")
        cursor.execute("SELECT has_any_column_privilege(%s, 'audit_accessevent', 'UPDATE')",
                       [ROLE])
        assert cursor.fetchone()[0] is True
    assert f"{ROLE} may UPDATE, REFERENCES on audit_accessevent" in _problems_as(ROLE)

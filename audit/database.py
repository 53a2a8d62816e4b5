"""The database roles on PostgreSQL: an owner that migrates, an application role that
may only add to the audit tables.

The append-only triggers (audit/triggers.py) stop the application's own statements;
they do not stop a role that owns the tables (it may drop or disable a trigger) or a
superuser (``SET session_replication_role = replica`` skips every ordinary trigger).
So the application connects as a role of its own (``SSPF_DATABASE_APP_ROLE``) that owns
nothing, and ``migrate``, run as the owner, grants that role after every migration:

- SELECT, INSERT, UPDATE and DELETE on every table of the schema, USAGE and SELECT on
  its sequences;
- on the audit tables (access events, chain links, django-auditlog's entries) only
  SELECT and INSERT.

``problems()`` lists what the connecting role could do to the audit tables beyond
that; ``manage.py check`` warns with it (audit/checks.py). SQLite has no roles: there a
file's owner can do anything, and the keyed chain and the checkpoints are what show it.

Key rotation (``rotate_keys``) lifts the consent tables' guards for its batches and so
runs as the owner, like ``migrate``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from audit.triggers import AUDIT


def audit_tables() -> list[str]:
    return sorted(AUDIT.tables("postgresql"))


def grant(using_connection=None, *, role: str | None = None) -> bool:
    """Grant the application role (``SSPF_DATABASE_APP_ROLE`` unless ``role`` is given)
    its privileges; returns whether there was one to grant to (on PostgreSQL)."""
    conn = using_connection or connection
    role = role or settings.SSPF_DATABASE_APP_ROLE
    if conn.vendor != "postgresql" or not role:
        return False
    quote = conn.ops.quote_name
    tables = ", ".join(quote(t) for t in audit_tables())
    with conn.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = quote(cursor.fetchone()[0])
        who = quote(role)
        for statement in (
            f"GRANT USAGE ON SCHEMA {schema} TO {who}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {who}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
            f"REVOKE ALL ON {tables} FROM {who}",
            f"GRANT SELECT, INSERT ON {tables} TO {who}",
        ):
            cursor.execute(statement)
    return True


def grant_after_migrate(sender, using="default", **kwargs) -> None:
    from django.db import connections

    grant(connections[using])


_PRIVILEGES = ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES")


def problems(using_connection=None) -> list[str]:
    """What the connecting role may do to the audit tables beyond SELECT and INSERT,
    one line per finding; empty on SQLite and for a well-restricted role."""
    conn = using_connection or connection
    if conn.vendor != "postgresql":
        return []
    found = []
    with conn.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        user, superuser = cursor.fetchone()
        if superuser:
            found.append(f"{user} is a superuser (it may bypass every trigger)")
        try:
            with transaction.atomic(using=conn.alias):
                cursor.execute(
                    "SELECT has_parameter_privilege('session_replication_role', 'SET')")
                if cursor.fetchone()[0] and not superuser:
                    found.append(f"{user} may set session_replication_role (skips the triggers)")
        except DatabaseError:  # before PostgreSQL 15 only superusers may set it
            pass
        cursor.execute("SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0] and not superuser:
            # Up to PostgreSQL 15 it may grant itself any role but superuser, the owner's too.
            found.append(f"{user} may create roles (and grant itself the owner's)")
        cursor.execute(
            "SELECT string_agg(rolname, ', ' ORDER BY rolname) FROM pg_roles "
            "WHERE rolname IN ('pg_execute_server_program', 'pg_write_server_files', "
            "'pg_read_server_files') AND pg_has_role(current_user, oid, 'MEMBER')")
        server_roles = cursor.fetchone()[0]
        if server_roles and not superuser:
            found.append(f"{user} is a member of {server_roles} (reaches the server's files)")
        for table in audit_tables():
            # MEMBER, not USAGE: a member that does not inherit the owner's privileges
            # may still SET ROLE to it.
            cursor.execute(
                "SELECT tableowner, pg_has_role(current_user, tableowner, 'MEMBER') "
                "FROM pg_tables WHERE schemaname = current_schema() AND tablename = %s",
                [table],
            )
            row = cursor.fetchone()
            if row is None:
                continue  # not migrated yet
            owner, as_owner = row
            if as_owner:
                found.append(f"{user} owns {table} or acts as its owner {owner} "
                             "(it may drop or disable the triggers)")
                continue
            may = [p for p in _PRIVILEGES if _has(cursor, table, p)]
            if may:
                found.append(f"{user} may {', '.join(may)} on {table}")
    return found


_COLUMN_PRIVILEGES = {"UPDATE", "REFERENCES"}  # may be granted on single columns


def _has(cursor, table: str, privilege: str) -> bool:
    check = ("has_any_column_privilege" if privilege in _COLUMN_PRIVILEGES
             else "has_table_privilege")
    cursor.execute(f"SELECT {check}(current_user, %s, %s)", [table, privilege])
    return cursor.fetchone()[0]

"""Database triggers that make the audit tables append-only.

Installed by migration on PostgreSQL and SQLite: UPDATE and DELETE (and TRUNCATE on
PostgreSQL) on the access events, the chain links and django-auditlog's log entries
are refused by the database itself, whatever code or console issues them. A database
owner can still drop a trigger; the hash chain is what makes that visible, and
``missing()`` (run by ``verify_audit`` and the nightly task) names a trigger that is
gone. On SQLite a migration that rebuilds a table drops its triggers with it, so they
are installed again after every ``migrate``.
"""

from __future__ import annotations

AUDIT_TABLES = ("audit_accessevent", "audit_chainlink", "auditlog_logentry")
MESSAGE = "audit tables are append-only"

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION sspf_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE}: % on %', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
"""


def _statements_install(vendor: str) -> list[str]:
    statements = []
    if vendor == "postgresql":
        statements.append(_PG_FUNCTION)
        for table in AUDIT_TABLES:
            statements += [
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION sspf_audit_append_only()",
                f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION sspf_audit_append_only()",
            ]
    elif vendor == "sqlite":
        for table in AUDIT_TABLES:
            for op in ("UPDATE", "DELETE"):
                statements.append(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
                )
    else:
        raise NotImplementedError(f"no append-only triggers for {vendor}")
    return statements


def _statements_remove(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [
            stmt
            for table in AUDIT_TABLES
            for stmt in (
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
                f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            )
        ]
    if vendor == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {table}_no_{op}"
            for table in AUDIT_TABLES
            for op in ("update", "delete")
        ]
    raise NotImplementedError(f"no append-only triggers for {vendor}")


def expected(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [f"{table}_{kind}" for table in AUDIT_TABLES
                for kind in ("append_only", "no_truncate")]
    return [f"{table}_no_{op}" for table in AUDIT_TABLES for op in ("update", "delete")]


def missing(connection) -> list[str]:
    """Names of append-only triggers that are absent (or disabled, on PostgreSQL)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                           "AND tgenabled <> 'D'")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {row[0] for row in cursor.fetchall()}
    return [name for name in expected(connection.vendor) if name not in present]


def install(connection) -> None:
    with connection.cursor() as cursor:
        for statement in _statements_install(connection.vendor):
            cursor.execute(statement)


def remove(connection) -> None:
    """Only for tests and for an operator's deliberate, documented maintenance."""
    with connection.cursor() as cursor:
        for statement in _statements_remove(connection.vendor):
            cursor.execute(statement)


def reinstall_after_migrate(sender, using, **kwargs) -> None:
    from django.db import connections

    connection = connections[using]
    if connection.vendor in ("postgresql", "sqlite") and set(AUDIT_TABLES) <= set(
            connection.introspection.table_names()):
        install(connection)


def install_migration(apps, schema_editor):
    install(schema_editor.connection)


def remove_migration(apps, schema_editor):
    remove(schema_editor.connection)

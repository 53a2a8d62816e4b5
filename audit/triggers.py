"""Database triggers that make the audit tables append-only.

Installed by migration on PostgreSQL and SQLite: UPDATE and DELETE (and TRUNCATE on
PostgreSQL) on the access events, the chain links and django-auditlog's log entries
are refused by the database itself, whatever code or console issues them. On SQLite an
INSERT that would replace a row (``INSERT OR REPLACE``, ``REPLACE``, an upsert) is
refused too: SQLite deletes the old row of a REPLACE without firing delete triggers
(unless ``recursive_triggers`` is on), so without these the others could be bypassed.
On PostgreSQL an upsert's update fires the update trigger.

A database owner can still drop, disable or rewrite a trigger; the hash chain is what
makes an edit visible, and ``missing()`` (run by ``verify_audit`` and the nightly task)
names a trigger that is gone or no longer does its work: on PostgreSQL one that is
disabled, fires only in replication mode, fires on other events, has a condition, or
whose function no longer raises; on SQLite one whose statement is not ours. On SQLite
a migration that rebuilds a table drops its triggers with it, so they are installed
again after every ``migrate``.
"""

from __future__ import annotations

AUDIT_TABLES = ("audit_accessevent", "audit_chainlink", "auditlog_logentry")
MESSAGE = "audit tables are append-only"

# Columns whose clash makes SQLite's REPLACE delete an existing row: the primary key
# and, for the chain links, the unique constraints of audit.models.ChainLink.
_SQLITE_UNIQUE_KEYS = {
    "audit_accessevent": [("id",)],
    "audit_chainlink": [("id",), ("chain", "seq"), ("record_type", "record_id")],
    "auditlog_logentry": [("id",)],
}

_PG_FUNCTION_NAME = "sspf_audit_append_only"
_PG_FUNCTION_BODY = f"""
BEGIN
    RAISE EXCEPTION '{MESSAGE}: % on %', TG_OP, TG_TABLE_NAME;
END;
"""
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {_PG_FUNCTION_NAME}() RETURNS trigger AS $$
{_PG_FUNCTION_BODY}
$$ LANGUAGE plpgsql;
"""
# pg_trigger.tgtype bits (PostgreSQL's src/include/catalog/pg_trigger.h): ROW 1,
# BEFORE 2, INSERT 4, DELETE 8, UPDATE 16, TRUNCATE 32.
_PG_KINDS = {
    "append_only": ("BEFORE UPDATE OR DELETE", "FOR EACH ROW", 1 | 2 | 8 | 16),
    "no_truncate": ("BEFORE TRUNCATE", "FOR EACH STATEMENT", 2 | 32),
}
_PG_TYPE_BITS = 1 | 2 | 4 | 8 | 16 | 32 | 64  # 64: INSTEAD


def _sqlite_clash(table: str, key: tuple[str, ...]) -> str:
    match = " AND ".join(f"{column} = NEW.{column}" for column in key)
    return f"EXISTS (SELECT 1 FROM {table} WHERE {match})"  # noqa: S608 - our own names


def _sqlite_triggers() -> dict[str, str]:
    """{name: CREATE TRIGGER statement} as SQLite keeps it in sqlite_master."""
    triggers = {}
    for table in AUDIT_TABLES:
        for op in ("UPDATE", "DELETE"):
            triggers[f"{table}_no_{op.lower()}"] = (
                f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )
        clashes = " OR ".join(_sqlite_clash(table, key) for key in _SQLITE_UNIQUE_KEYS[table])
        triggers[f"{table}_no_replace"] = (
            f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} WHEN {clashes} "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
    return triggers


def _statements_install(vendor: str) -> list[str]:
    statements = []
    if vendor == "postgresql":
        statements.append(_PG_FUNCTION)
        for table in AUDIT_TABLES:
            for kind, (when, each, _bits) in _PG_KINDS.items():
                statements += [
                    f"DROP TRIGGER IF EXISTS {table}_{kind} ON {table}",
                    f"CREATE TRIGGER {table}_{kind} {when} ON {table} "
                    f"{each} EXECUTE FUNCTION {_PG_FUNCTION_NAME}()",
                ]
    elif vendor == "sqlite":
        statements = [
            statement.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1)
            for statement in _sqlite_triggers().values()
        ]
    else:
        raise NotImplementedError(f"no append-only triggers for {vendor}")
    return statements


def _statements_remove(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {table}_{kind} ON {table}"
                for table in AUDIT_TABLES for kind in _PG_KINDS]
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in _sqlite_triggers()]
    raise NotImplementedError(f"no append-only triggers for {vendor}")


def expected(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [f"{table}_{kind}" for table in AUDIT_TABLES for kind in _PG_KINDS]
    return list(_sqlite_triggers())


def _normalised(sql: str) -> str:
    return " ".join(sql.split())


def _pg_working(cursor) -> set[str]:
    cursor.execute(
        "SELECT t.tgname, c.relname, t.tgtype, p.prosrc FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
        # 'O' fires in the normal session mode, 'A' always; 'D' never, 'R' only for a
        # session in replica mode (session_replication_role), which any owner can set.
        "WHERE NOT t.tgisinternal AND t.tgenabled IN ('O', 'A') AND t.tgqual IS NULL "
        "AND t.tgrelid = ANY(%s::regclass[])",  # the tables the application writes to
        [list(AUDIT_TABLES)],
    )
    working = set()
    body = _normalised(_PG_FUNCTION_BODY)
    for name, table, tgtype, source in cursor.fetchall():
        kind = name.removeprefix(f"{table}_")
        if (kind in _PG_KINDS and tgtype & _PG_TYPE_BITS == _PG_KINDS[kind][2]
                and _normalised(source) == body):
            working.add(name)
    return working


def missing(connection) -> list[str]:
    """Names of append-only triggers that are absent or would not refuse what they
    should (see the module docstring)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            present = _pg_working(cursor)
        else:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            ours = {name: _normalised(sql) for name, sql in _sqlite_triggers().items()}
            present = {name for name, sql in cursor.fetchall()
                       if ours.get(name) == _normalised(sql or "")}
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

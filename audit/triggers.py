"""Database triggers that refuse changes to rows that must never change.

The audit tables are append-only: UPDATE and DELETE (and TRUNCATE on PostgreSQL) on
the access events, the chain links and django-auditlog's log entries are refused by
the database itself, whatever code or console issues them. A database owner can still
drop a trigger; the hash chain is what makes that visible, and ``missing()`` (run by
``verify_audit`` and the nightly task) names a trigger that is gone. On SQLite a
migration that rebuilds a table drops its triggers with it, so they are installed
again after every ``migrate``.

Other apps guard their own tables with the same machinery: they describe a ``Guard``
and ``register`` it (the consent app does, for grants and signed forms). Every
registered guard is installed again after ``migrate`` and checked by ``missing()``.
This module knows no other app: a guard brings its own tables and SQL.

``lifted()`` is the one sanctioned way past a guard: for one table, inside a
transaction, and the triggers are back before that transaction commits (DDL is
transactional on PostgreSQL and SQLite, so no other connection ever sees the table
unguarded). Key rotation re-encrypts guarded rows through it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import transaction

VENDORS = ("postgresql", "sqlite")


@dataclass(frozen=True)
class Trigger:
    """One trigger as it is created on one database engine."""

    name: str
    table: str
    create: str  # the CREATE TRIGGER statement


def pg_refusal(function: str, message: str) -> str:
    """A PostgreSQL trigger function that refuses whatever fired it, naming the
    operation and the table."""
    return f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{message}: % on %', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
"""


def pg_trigger(name: str, table: str, operation: str, function: str, *,
               when: str = "") -> Trigger:
    """``operation``: UPDATE, DELETE, UPDATE OR DELETE, INSERT or TRUNCATE; ``when``: a
    condition on OLD and NEW (no subqueries: PostgreSQL refuses them there)."""
    level = "STATEMENT" if operation == "TRUNCATE" else "ROW"
    condition = f" WHEN ({when})" if when else ""
    return Trigger(name, table, f"CREATE TRIGGER {name} BEFORE {operation} ON {table} "
                                f"FOR EACH {level}{condition} EXECUTE FUNCTION {function}()")


def sqlite_trigger(name: str, table: str, operation: str, message: str, *,
                   when: str = "") -> Trigger:
    """``operation``: UPDATE, DELETE or INSERT; the row is refused when ``when`` holds
    (always without it)."""
    condition = f" WHEN {when}" if when else ""
    return Trigger(name, table, f"CREATE TRIGGER {name} BEFORE {operation} ON {table} "
                                f"FOR EACH ROW{condition} "
                                f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


def refusing(tables, *, function: str, message: str) -> tuple[list[str], dict]:
    """PostgreSQL functions and the triggers of both engines that refuse UPDATE, DELETE
    (and TRUNCATE on PostgreSQL) on ``tables``."""
    triggers = {
        "postgresql": [
            trigger for table in tables for trigger in (
                pg_trigger(f"{table}_append_only", table, "UPDATE OR DELETE", function),
                pg_trigger(f"{table}_no_truncate", table, "TRUNCATE", function),
            )
        ],
        "sqlite": [
            sqlite_trigger(f"{table}_no_{op.lower()}", table, op, message)
            for table in tables for op in ("UPDATE", "DELETE")
        ],
    }
    return [pg_refusal(function, message)], triggers


@dataclass(frozen=True, eq=False)
class Guard:
    """The triggers that keep some tables unchangeable, for each database engine."""

    name: str
    pg_functions: list[str]
    triggers: dict[str, list[Trigger]] = field(default_factory=dict)

    def _triggers(self, vendor: str, tables=None) -> list[Trigger]:
        if vendor not in VENDORS:
            raise NotImplementedError(f"no {self.name} triggers for {vendor}")
        return [t for t in self.triggers[vendor] if tables is None or t.table in tables]

    def tables(self, vendor: str) -> set[str]:
        return {t.table for t in self._triggers(vendor)}

    def expected(self, vendor: str) -> list[str]:
        return [t.name for t in self._triggers(vendor)]

    def install(self, connection, tables=None) -> None:
        vendor = connection.vendor
        with connection.cursor() as cursor:
            if vendor == "postgresql":
                for statement in self.pg_functions:
                    cursor.execute(statement)
            for trigger in self._triggers(vendor, tables):
                cursor.execute(_drop(vendor, trigger))
                cursor.execute(trigger.create)

    def remove(self, connection, tables=None) -> None:
        """Only for tests, ``lifted()`` and an operator's deliberate, documented
        maintenance."""
        with connection.cursor() as cursor:
            for trigger in self._triggers(connection.vendor, tables):
                cursor.execute(_drop(connection.vendor, trigger))

    def install_migration(self, apps, schema_editor) -> None:
        self.install(schema_editor.connection)

    def remove_migration(self, apps, schema_editor) -> None:
        self.remove(schema_editor.connection)


def _drop(vendor: str, trigger: Trigger) -> str:
    if vendor == "postgresql":
        return f"DROP TRIGGER IF EXISTS {trigger.name} ON {trigger.table}"
    return f"DROP TRIGGER IF EXISTS {trigger.name}"


AUDIT_TABLES = ("audit_accessevent", "audit_chainlink", "auditlog_logentry")
MESSAGE = "audit tables are append-only"

AUDIT = Guard("append-only", *refusing(AUDIT_TABLES, function="sspf_audit_append_only",
                                       message=MESSAGE))

_guards: list[Guard] = [AUDIT]


def register(guard: Guard) -> Guard:
    """Let another app's guard be installed after ``migrate``, checked by ``missing()``
    and lifted by ``lifted()`` like the audit tables' own."""
    if guard not in _guards:
        _guards.append(guard)
    return guard


def expected(vendor: str) -> list[str]:
    return [name for guard in _guards for name in guard.expected(vendor)]


def missing(connection) -> list[str]:
    """Names of guard triggers that are absent (or disabled, on PostgreSQL)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                           "AND tgenabled <> 'D'")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {row[0] for row in cursor.fetchall()}
    return [name for name in expected(connection.vendor) if name not in present]


def install(connection) -> None:
    for guard in _guards:
        guard.install(connection)


def remove(connection) -> None:
    """Only for tests and for an operator's deliberate, documented maintenance."""
    for guard in _guards:
        guard.remove(connection)


def reinstall_after_migrate(sender, using, **kwargs) -> None:
    from django.db import connections

    connection = connections[using]
    if connection.vendor not in VENDORS:
        return
    present = set(connection.introspection.table_names())
    for guard in _guards:
        if guard.tables(connection.vendor) <= present:
            guard.install(connection)


@contextmanager
def lifted(connection, table: str) -> Iterator[None]:
    """The guards of ``table`` lifted for the block, inside a transaction that must
    already be open: they are installed again before the block ends, and if it fails
    the savepoint's rollback restores them."""
    if not connection.in_atomic_block:
        raise RuntimeError("guard triggers are lifted only inside a transaction")
    guards = [g for g in _guards if table in g.tables(connection.vendor)]
    with transaction.atomic(using=connection.alias):
        for guard in guards:
            guard.remove(connection, tables={table})
        yield
        for guard in guards:
            guard.install(connection, tables={table})


install_migration = AUDIT.install_migration
remove_migration = AUDIT.remove_migration

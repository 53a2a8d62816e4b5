"""Database triggers that refuse changes to rows that must never change.

The audit tables are append-only: UPDATE and DELETE (and TRUNCATE on PostgreSQL) on
the access events, the chain links and django-auditlog's log entries are refused by
the database itself, whatever code or console issues them. On SQLite an INSERT that
would replace a row (``INSERT OR REPLACE``, ``REPLACE``, an upsert) is refused too:
SQLite deletes the old row of a REPLACE without firing delete triggers (unless
``recursive_triggers`` is on), so without these the others could be bypassed. On
PostgreSQL an upsert's update fires the update trigger.

Other apps guard their own tables with the same machinery: they describe a ``Guard``
and ``register`` it (the consent app does, for grants and signed forms). Every
registered guard is installed again after ``migrate`` (on SQLite a migration that
rebuilds a table drops its triggers with it) and checked by ``missing()``. This module
knows no other app: a guard brings its own tables and SQL.

A database owner can still drop, disable or rewrite a trigger; the hash chain is what
makes an edit of the audit tables visible, and ``missing()`` (run by ``verify_audit``
and the nightly task) names a trigger that is gone or no longer does its work. On
PostgreSQL that is one that is disabled or fires only in replication mode, fires on
other events, has a condition of its own, or whose function is not ours (so every
condition lives in the trigger function, whose source is compared); on SQLite one whose
statement is not ours.

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

# pg_trigger.tgtype bits (PostgreSQL's src/include/catalog/pg_trigger.h).
_PG_ROW, _PG_BEFORE, _PG_INSTEAD = 1, 2, 64
_PG_EVENTS = {"INSERT": 4, "DELETE": 8, "UPDATE": 16, "TRUNCATE": 32}
_PG_TYPE_BITS = _PG_ROW | _PG_BEFORE | _PG_INSTEAD | sum(_PG_EVENTS.values())


def _normalised(sql: str) -> str:
    return " ".join(sql.split())


@dataclass(frozen=True)
class PgFunction:
    """A PostgreSQL trigger function: its name and its PL/pgSQL body."""

    name: str
    body: str

    @property
    def create(self) -> str:
        return (f"CREATE OR REPLACE FUNCTION {self.name}() RETURNS trigger AS $$\n"
                f"{self.body}\n$$ LANGUAGE plpgsql;")


@dataclass(frozen=True)
class Trigger:
    """One trigger as it is created on one database engine. On PostgreSQL it also names
    the function it runs and the ``tgtype`` bits it has, so that ``missing()`` can tell
    an intact trigger from one rewritten under the same name."""

    name: str
    table: str
    create: str  # the CREATE TRIGGER statement
    pg_function: str = ""
    pg_type: int = 0


def pg_refusal(function: str, message: str) -> PgFunction:
    """A PostgreSQL trigger function that refuses whatever fired it, naming the
    operation and the table."""
    return PgFunction(function, f"BEGIN\n    RAISE EXCEPTION '{message}: % on %', "
                                f"TG_OP, TG_TABLE_NAME;\nEND;")


def pg_trigger(name: str, table: str, operation: str, function: str) -> Trigger:
    """``operation``: UPDATE, DELETE, UPDATE OR DELETE, INSERT or TRUNCATE. No WHEN
    condition: a condition belongs in the function, whose source ``missing()`` checks."""
    statement_level = operation == "TRUNCATE"
    level = "STATEMENT" if statement_level else "ROW"
    bits = _PG_BEFORE | (0 if statement_level else _PG_ROW)
    for event in operation.split(" OR "):
        bits |= _PG_EVENTS[event]
    return Trigger(name, table, f"CREATE TRIGGER {name} BEFORE {operation} ON {table} "
                                f"FOR EACH {level} EXECUTE FUNCTION {function}()",
                   pg_function=function, pg_type=bits)


def sqlite_trigger(name: str, table: str, operation: str, message: str, *,
                   when: str = "") -> Trigger:
    """``operation``: UPDATE, DELETE or INSERT; the row is refused when ``when`` holds
    (always without it)."""
    condition = f" WHEN {when}" if when else ""
    return Trigger(name, table, f"CREATE TRIGGER {name} BEFORE {operation} ON {table} "
                                f"FOR EACH ROW{condition} "
                                f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


def sqlite_no_replace(table: str, keys: list[tuple[str, ...]], message: str) -> Trigger:
    """Refuse an INSERT that clashes with an existing row on one of ``keys`` (the primary
    key and every unique constraint): SQLite would delete that row for a REPLACE."""
    def clash(key: tuple[str, ...]) -> str:
        match = " AND ".join(f"{column} = NEW.{column}" for column in key)
        return f"EXISTS (SELECT 1 FROM {table} WHERE {match})"  # noqa: S608 - our own names

    clashes = " OR ".join(clash(key) for key in keys)
    return sqlite_trigger(f"{table}_no_replace", table, "INSERT", message, when=clashes)


def refusing(tables, *, function: str, message: str,
             unique_keys: dict[str, list[tuple[str, ...]]] | None = None,
             ) -> tuple[list[PgFunction], dict[str, list[Trigger]]]:
    """The PostgreSQL function and the triggers of both engines that refuse UPDATE,
    DELETE (and TRUNCATE on PostgreSQL) on ``tables``, and on SQLite an INSERT that
    would replace a row (by ``unique_keys``, the primary key ``id`` by default)."""
    unique_keys = unique_keys or {}
    triggers = {
        "postgresql": [
            trigger for table in tables for trigger in (
                pg_trigger(f"{table}_append_only", table, "UPDATE OR DELETE", function),
                pg_trigger(f"{table}_no_truncate", table, "TRUNCATE", function),
            )
        ],
        "sqlite": [
            trigger for table in tables for trigger in (
                *(sqlite_trigger(f"{table}_no_{op.lower()}", table, op, message)
                  for op in ("UPDATE", "DELETE")),
                sqlite_no_replace(table, unique_keys.get(table, [("id",)]), message),
            )
        ],
    }
    return [pg_refusal(function, message)], triggers


@dataclass(frozen=True, eq=False)
class Guard:
    """The triggers that keep some tables unchangeable, for each database engine."""

    name: str
    pg_functions: list[PgFunction]
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
                for function in self.pg_functions:
                    cursor.execute(function.create)
            for trigger in self._triggers(vendor, tables):
                cursor.execute(_drop(vendor, trigger))
                cursor.execute(trigger.create)

    def remove(self, connection, tables=None) -> None:
        """Only for tests, ``lifted()`` and an operator's deliberate, documented
        maintenance."""
        with connection.cursor() as cursor:
            for trigger in self._triggers(connection.vendor, tables):
                cursor.execute(_drop(connection.vendor, trigger))

    def working(self, connection) -> set[str]:
        """Names of this guard's triggers that are present and intact."""
        triggers = {t.name: t for t in self._triggers(connection.vendor)}
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                return {name for name, table, tgtype, function, source in _pg_rows(
                    cursor, self.tables("postgresql"))
                    if name in triggers and _pg_intact(triggers[name], self, table, tgtype,
                                                       function, source)}
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            return {name for name, sql in cursor.fetchall() if name in triggers
                    and _normalised(sql or "") == _normalised(triggers[name].create)}

    def install_migration(self, apps, schema_editor) -> None:
        # On SQLite a trigger whose condition reads another table (the consent guard
        # reads the case and its municipality) stops any later migration that rebuilds
        # that table: SQLite checks every trigger when the rebuilt table is renamed into
        # place. There the guards are taken off before ``migrate`` and put on after it
        # (``remove_before_migrate``, ``reinstall_after_migrate``), not in between.
        if schema_editor.connection.vendor == "sqlite":
            return
        self.install(schema_editor.connection)

    def remove_migration(self, apps, schema_editor) -> None:
        self.remove(schema_editor.connection)


def _pg_rows(cursor, tables) -> list[tuple]:
    cursor.execute(
        "SELECT t.tgname, c.relname, t.tgtype, p.proname, p.prosrc FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
        # 'O' fires in the normal session mode, 'A' always; 'D' never, 'R' only for a
        # session in replica mode (session_replication_role), which any owner can set.
        "WHERE NOT t.tgisinternal AND t.tgenabled IN ('O', 'A') AND t.tgqual IS NULL "
        "AND t.tgrelid = ANY(%s::regclass[])",
        [sorted(tables)],
    )
    return cursor.fetchall()


def _pg_intact(trigger: Trigger, guard: Guard, table: str, tgtype: int, function: str,
               source: str) -> bool:
    bodies = {f.name: _normalised(f.body) for f in guard.pg_functions}
    return (table == trigger.table and tgtype & _PG_TYPE_BITS == trigger.pg_type
            and function == trigger.pg_function
            and _normalised(source) == bodies.get(function))


def _drop(vendor: str, trigger: Trigger) -> str:
    if vendor == "postgresql":
        return f"DROP TRIGGER IF EXISTS {trigger.name} ON {trigger.table}"
    return f"DROP TRIGGER IF EXISTS {trigger.name}"


AUDIT_TABLES = ("audit_accessevent", "audit_chainlink", "auditlog_logentry")
MESSAGE = "audit tables are append-only"

AUDIT = Guard("append-only", *refusing(
    AUDIT_TABLES, function="sspf_audit_append_only", message=MESSAGE,
    # The chain links' unique constraints (audit.models.ChainLink) besides the key.
    unique_keys={"audit_chainlink": [("id",), ("chain", "seq"), ("record_type", "record_id")]},
))

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
    """Names of guard triggers that are absent or would not refuse what they should
    (see the module docstring)."""
    return [name for guard in _guards
            for name in guard.expected(connection.vendor)
            if name not in guard.working(connection)]


def install(connection) -> None:
    for guard in _guards:
        guard.install(connection)


def remove(connection) -> None:
    """Only for tests and for an operator's deliberate, documented maintenance."""
    for guard in _guards:
        guard.remove(connection)


def remove_before_migrate(sender, using, **kwargs) -> None:
    """On SQLite, every guard comes off for ``migrate`` and back on after it (see
    ``Guard.install_migration``); ``migrate`` is the owner's maintenance."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor == "sqlite":
        remove(connection)


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

"""Database triggers that keep consent records as they were recorded.

A grant is never edited or deleted: a change is a new grant, a withdrawal a stamp. The
database holds to that whatever code or console issues the statement:
- a grant refuses DELETE, and any UPDATE except the withdrawal stamp, once: setting
  when, by whom and why while they are still empty, with every other column unchanged;
- a grant's organisations refuse UPDATE and DELETE, and a new row once the grant's
  recording is in the audit log (the rows are written just before that event, in the
  same transaction);
- a signed form refuses UPDATE and DELETE (a form is uploaded once and never replaced);
- TRUNCATE of any of them is refused on PostgreSQL, and on SQLite an INSERT that
  would replace one of these rows (SQLite's REPLACE deletes without delete triggers).

Built with audit.triggers and registered there, so they are installed again after
every ``migrate`` (a migration that rebuilds a table on SQLite drops its triggers) and
``verify_audit`` names one that is missing.

Two ways past them, each sanctioned and recorded:
- ``audit.triggers.lifted``, inside a transaction, as the database owner: key rotation
  re-encrypts the text and the forms through it;
- gallring (cases/services/gallring.py), as the application: a DELETE of a grant, of
  its organisations or of its signed form is let through only when the database
  itself finds both (``_ERASABLE``) that the grant's case is closed and was closed
  longer ago than its municipality's retention period, and that the erasure of that
  case is already in the audit log (the ``erased`` event, which gallring writes first in
  the same transaction). Any other DELETE is refused as before. The period is counted
  on the database's date with one day's grace, so a server clock in another time zone
  than the application's cannot refuse a case the application found due.
"""

from __future__ import annotations

from audit import triggers
from audit.models import AccessEvent, Action

GRANTS = "consent_consentgrant"
ORGANISATIONS = "consent_consentgrant_organisations"
DOCUMENTS = "consent_consentdocument"
MESSAGE = "consent records are never edited or deleted"
FUNCTION = "sspf_consent_unchangeable"
SCOPE_FUNCTION = "sspf_consent_scope_closed"

# Every column of a grant but the withdrawal stamp. A new column belongs here (a test
# checks the list against the model); a migration must not read it from the model,
# whose columns may be newer than the migration's.
FIXED_COLUMNS = ("id", "case_id", "giver_type", "guardian_id", "categories", "purpose",
                 "form", "given_on", "valid_until", "recorded_by_id", "recorded_at")
STAMP_COLUMNS = ("withdrawn_at", "withdrawn_by_id", "withdrawal_reason")


def _stamp(same: str) -> str:
    """The one allowed UPDATE: the withdrawal stamped on a grant not yet withdrawn."""
    unchanged = " AND ".join(f"NEW.{c} {same} OLD.{c}" for c in FIXED_COLUMNS)
    return ("OLD.withdrawn_at IS NULL AND NEW.withdrawn_at IS NOT NULL "
            f"AND NEW.withdrawn_by_id IS NOT NULL AND {unchanged}")


# Only constants of this module and of audit go into the statement.
_RECORDED = (
    f"EXISTS (SELECT 1 FROM {AccessEvent._meta.db_table} "  # noqa: S608
    f"WHERE case_id = (SELECT case_id FROM {GRANTS} WHERE id = NEW.consentgrant_id) "
    f"AND action = '{Action.CONSENT_GIVEN.value}' AND object_type = 'consent.ConsentGrant' "
    "AND object_id = CAST(NEW.consentgrant_id AS TEXT))"
)

CASES = "cases_case"
MUNICIPALITIES = "sspf_municipality"


def _erasable(case_id: str, vendor: str) -> str:
    """The case ``case_id`` (an SQL expression) is past retention and its erasure
    recorded."""
    if vendor == "postgresql":
        cutoff = "(CURRENT_DATE + 1) - make_interval(years => m.retention_years)"
    else:
        cutoff = "date('now', '+1 day', '-' || m.retention_years || ' years')"
    return (
        f"EXISTS (SELECT 1 FROM {CASES} c JOIN {MUNICIPALITIES} m "  # noqa: S608
        f"ON m.id = c.municipality_id WHERE c.id = {case_id} AND c.status = 'closed' "
        f"AND c.closed_at < {cutoff}) "
        f"AND EXISTS (SELECT 1 FROM {AccessEvent._meta.db_table} WHERE case_id = {case_id} "
        f"AND action = '{Action.ERASED.value}' AND object_type = 'cases.Case')"
    )


# The case of the row being deleted, for each guarded table.
_CASE_OF = {
    GRANTS: "OLD.case_id",
    ORGANISATIONS: f"(SELECT case_id FROM {GRANTS} WHERE id = OLD.consentgrant_id)",  # noqa: S608
    DOCUMENTS: f"(SELECT case_id FROM {GRANTS} WHERE id = OLD.grant_id)",  # noqa: S608
}
ERASE_FUNCTIONS = {GRANTS: "sspf_consent_erase_grant",
                   ORGANISATIONS: "sspf_consent_erase_scope",
                   DOCUMENTS: "sspf_consent_erase_document"}

STAMP_FUNCTION = "sspf_consent_stamp_only"

# On PostgreSQL every condition lives in a trigger function: missing() compares the
# functions' source, and a trigger with a WHEN of its own counts as altered.
_PG_SCOPE_FUNCTION = triggers.PgFunction(SCOPE_FUNCTION, f"""BEGIN
    IF {_RECORDED} THEN
        RAISE EXCEPTION '{MESSAGE}: % on %', TG_OP, TG_TABLE_NAME;
    END IF;
    RETURN NEW;
END;""")
_PG_STAMP_FUNCTION = triggers.PgFunction(STAMP_FUNCTION, f"""BEGIN
    IF NOT ({_stamp('IS NOT DISTINCT FROM')}) THEN
        RAISE EXCEPTION '{MESSAGE}: % on %', TG_OP, TG_TABLE_NAME;
    END IF;
    RETURN NEW;
END;""")


def _pg_erase_function(table: str) -> triggers.PgFunction:
    return triggers.PgFunction(ERASE_FUNCTIONS[table], f"""BEGIN
    IF NOT ({_erasable(_CASE_OF[table], 'postgresql')}) THEN
        RAISE EXCEPTION '{MESSAGE}: % on %', TG_OP, TG_TABLE_NAME;
    END IF;
    RETURN OLD;
END;""")


def _guard() -> triggers.Guard:
    pg, sqlite = triggers.pg_trigger, triggers.sqlite_trigger
    unique_keys = {ORGANISATIONS: [("id",), ("consentgrant_id", "organisation_id")],
                   DOCUMENTS: [("id",), ("grant_id",)]}
    return triggers.Guard(
        "consent",
        [triggers.pg_refusal(FUNCTION, MESSAGE), _PG_SCOPE_FUNCTION, _PG_STAMP_FUNCTION,
         *(_pg_erase_function(table) for table in ERASE_FUNCTIONS)],
        {
            "postgresql": [
                pg(f"{GRANTS}_no_delete", GRANTS, "DELETE", ERASE_FUNCTIONS[GRANTS]),
                pg(f"{GRANTS}_stamp_only", GRANTS, "UPDATE", STAMP_FUNCTION),
                pg(f"{GRANTS}_no_truncate", GRANTS, "TRUNCATE", FUNCTION),
                pg(f"{ORGANISATIONS}_closed", ORGANISATIONS, "INSERT", SCOPE_FUNCTION),
                *(trigger for table in (ORGANISATIONS, DOCUMENTS) for trigger in (
                    pg(f"{table}_append_only", table, "UPDATE", FUNCTION),
                    pg(f"{table}_erase_only", table, "DELETE", ERASE_FUNCTIONS[table]),
                    pg(f"{table}_no_truncate", table, "TRUNCATE", FUNCTION),
                )),
            ],
            "sqlite": [
                sqlite(f"{GRANTS}_no_delete", GRANTS, "DELETE", MESSAGE,
                       when=f"NOT ({_erasable(_CASE_OF[GRANTS], 'sqlite')})"),
                sqlite(f"{GRANTS}_stamp_only", GRANTS, "UPDATE", MESSAGE,
                       when=f"NOT ({_stamp('IS')})"),
                triggers.sqlite_no_replace(GRANTS, [("id",)], MESSAGE),
                sqlite(f"{ORGANISATIONS}_closed", ORGANISATIONS, "INSERT", MESSAGE,
                       when=_RECORDED),
                *(trigger for table in (ORGANISATIONS, DOCUMENTS) for trigger in (
                    sqlite(f"{table}_no_update", table, "UPDATE", MESSAGE),
                    sqlite(f"{table}_no_delete", table, "DELETE", MESSAGE,
                           when=f"NOT ({_erasable(_CASE_OF[table], 'sqlite')})"),
                    triggers.sqlite_no_replace(table, unique_keys[table], MESSAGE),
                )),
            ],
        },
    )


CONSENT = triggers.register(_guard())

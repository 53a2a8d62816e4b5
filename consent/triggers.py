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
``verify_audit`` names one that is missing. The one way past them is
``audit.triggers.lifted``, inside a transaction: key rotation re-encrypts the text and
the forms through it. Retention (gallring) of closed cases will need the same kind of
sanctioned, recorded path to delete grants and forms; none exists yet, so nothing can
delete them.
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


def _guard() -> triggers.Guard:
    functions, refused = triggers.refusing(
        (ORGANISATIONS, DOCUMENTS), function=FUNCTION, message=MESSAGE,
        unique_keys={ORGANISATIONS: [("id",), ("consentgrant_id", "organisation_id")],
                     DOCUMENTS: [("id",), ("grant_id",)]})
    pg, sqlite = triggers.pg_trigger, triggers.sqlite_trigger
    return triggers.Guard(
        "consent",
        [*functions, _PG_SCOPE_FUNCTION, _PG_STAMP_FUNCTION],
        {
            "postgresql": [
                pg(f"{GRANTS}_no_delete", GRANTS, "DELETE", FUNCTION),
                pg(f"{GRANTS}_stamp_only", GRANTS, "UPDATE", STAMP_FUNCTION),
                pg(f"{GRANTS}_no_truncate", GRANTS, "TRUNCATE", FUNCTION),
                pg(f"{ORGANISATIONS}_closed", ORGANISATIONS, "INSERT", SCOPE_FUNCTION),
                *refused["postgresql"],
            ],
            "sqlite": [
                sqlite(f"{GRANTS}_no_delete", GRANTS, "DELETE", MESSAGE),
                sqlite(f"{GRANTS}_stamp_only", GRANTS, "UPDATE", MESSAGE,
                       when=f"NOT ({_stamp('IS')})"),
                triggers.sqlite_no_replace(GRANTS, [("id",)], MESSAGE),
                sqlite(f"{ORGANISATIONS}_closed", ORGANISATIONS, "INSERT", MESSAGE,
                       when=_RECORDED),
                *refused["sqlite"],
            ],
        },
    )


CONSENT = triggers.register(_guard())

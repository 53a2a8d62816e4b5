"""The database guard on a case's closing day, which gallring's permission to delete
consent records rests on (consent/triggers.py lets a DELETE through for a case closed
longer ago than its municipality's retention period).

So that the application role cannot make a case look old enough by writing a date, the
database lets ``closed_at`` be set only to the database's own date (one day's grace
either way, for a server clock in another time zone than the application's) or
cleared, when a case is closed or reopened; a row inserted with a closing day obeys the
same rule. The retention period itself is held to 1–10 years by a check constraint on
the municipality (its migration). A database owner can still lift this, as it can
every trigger; ``verify_audit`` names the guard when it is missing or altered.

Tests that need a case closed years ago lift the guard as the owner for that update
(``audit.triggers.lifted``).
"""

from __future__ import annotations

from audit import triggers

CASES = "cases_case"
MESSAGE = "a case is closed on the day it is closed"
FUNCTION = "sspf_case_closed_today"


def _allowed(vendor: str) -> str:
    today = "CURRENT_DATE" if vendor == "postgresql" else "date('now')"
    low, high = ((f"{today} - 1", f"{today} + 1") if vendor == "postgresql"
                 else ("date('now', '-1 day')", "date('now', '+1 day')"))
    return f"NEW.closed_at IS NULL OR NEW.closed_at BETWEEN {low} AND {high}"


_CHANGED = "NEW.closed_at IS DISTINCT FROM OLD.closed_at"
_PG_FUNCTION = triggers.PgFunction(FUNCTION, f"""BEGIN
    IF (TG_OP = 'INSERT' OR {_CHANGED}) AND NOT ({_allowed('postgresql')}) THEN
        RAISE EXCEPTION '{MESSAGE}: % on %', TG_OP, TG_TABLE_NAME;
    END IF;
    RETURN NEW;
END;""")

CASE_GUARD = triggers.register(triggers.Guard(
    "cases",
    [_PG_FUNCTION],
    {
        "postgresql": [
            triggers.pg_trigger(f"{CASES}_closed_today", CASES, "INSERT OR UPDATE", FUNCTION),
        ],
        "sqlite": [
            triggers.sqlite_trigger(f"{CASES}_closed_today_insert", CASES, "INSERT", MESSAGE,
                                    when=f"NOT ({_allowed('sqlite')})"),
            triggers.sqlite_trigger(f"{CASES}_closed_today_update", CASES, "UPDATE", MESSAGE,
                                    when=f"NEW.closed_at IS NOT OLD.closed_at "
                                         f"AND NOT ({_allowed('sqlite')})"),
        ],
    },
))

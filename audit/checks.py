"""System check: on PostgreSQL, the role the application connects as may only add to
the audit tables and read them (audit/database.py)."""

from django.core.checks import Warning as CheckWarning
from django.db import DatabaseError

from audit import database


def audit_role_restricted(app_configs=None, **kwargs):
    try:
        found = database.problems()
    except DatabaseError:
        return []  # no database to ask (yet); migrate and the server will say so
    if not found:
        return []
    return [CheckWarning(
        "The database role the application connects as can change the audit log: "
        + "; ".join(found) + ".",
        hint="Run the application as a role that only holds SELECT and INSERT on the audit "
        "tables and owns nothing (set SSPF_DATABASE_APP_ROLE and run migrate as the "
        "owner, see README). Expected while migrate itself runs as the owner.",
        id="audit.W001",
    )]

"""Nightly verification of the audit chains; the result is itself an audit event."""

from celery import shared_task
from django.db import connection, transaction

from audit import chain, checkpoints, triggers
from audit.events import record
from audit.models import Action, Outcome


@shared_task(name="audit.verify_chains")
def verify_chains() -> bool:
    try:
        result = chain.verify()
        absent = triggers.missing(connection)
        _count, problem = checkpoints.verify_file() if result.ok else (0, "")
    except Exception as exc:
        with transaction.atomic():
            record(action=Action.AUDIT_BROKEN, outcome=Outcome.FAILED,
                   purpose=f"verification could not run: {type(exc).__name__}")
        raise
    problems = ([result.problem] if not result.ok else []) + (
        [f"append-only trigger(s) missing or altered: {', '.join(absent)}"] if absent else []
    ) + ([f"checkpoints: {problem}"] if problem else [])
    with transaction.atomic():
        if problems:
            record(action=Action.AUDIT_BROKEN, outcome=Outcome.FAILED,
                   purpose="; ".join(problems)[:500])
        else:
            record(action=Action.AUDIT_VERIFIED, purpose=f"{result.links} links verified")
    return not problems


@shared_task(name="audit.write_checkpoint")
def write_checkpoint() -> int:
    """Sign the chain heads into the checkpoint file (audit/checkpoints.py); returns
    the checkpoint's number. A broken chain is recorded and nothing is signed."""
    return checkpoints.write().n

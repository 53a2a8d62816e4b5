"""Nightly verification of the audit chains; the result is itself an audit event."""

from celery import shared_task
from django.db import transaction

from audit import chain
from audit.events import record
from audit.models import Action, Outcome


@shared_task(name="audit.verify_chains")
def verify_chains() -> bool:
    result = chain.verify()
    with transaction.atomic():
        if result.ok:
            record(action=Action.AUDIT_VERIFIED, purpose=f"{result.links} links verified")
        else:
            record(action=Action.AUDIT_BROKEN, outcome=Outcome.FAILED, purpose=result.problem[:500])
    return result.ok

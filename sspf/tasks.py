"""Background work of the collaboration core."""

from celery import shared_task

from sspf import refusals


@shared_task(name="sspf.record_refusals")
def record_refusals() -> int:
    """Record the counted refusals of every minute that is over (sspf/refusals.py)."""
    return refusals.record_closed_minutes()

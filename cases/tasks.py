"""Background work on cases."""

from celery import shared_task

from cases.services import gallring, reminders


@shared_task(name="cases.gallra")
def gallra() -> dict[str, int]:
    """Daily gallring (cases/services/gallring.py): idempotent, ids only in its result."""
    return gallring.run()


@shared_task(name="cases.remind_due")
def remind_due() -> int:
    """Daily reminders of follow-ups and commitments (cases/services/reminders.py)."""
    return reminders.send_due()

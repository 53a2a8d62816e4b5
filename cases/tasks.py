"""Background work on cases."""

from celery import shared_task

from cases.services import gallring


@shared_task(name="cases.gallra")
def gallra() -> dict[str, int]:
    """Daily gallring (cases/services/gallring.py): idempotent, ids only in its result."""
    return gallring.run()

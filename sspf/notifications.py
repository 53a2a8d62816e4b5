"""Sending in-app notifications, and the e-mail that tells a person to log in. The
e-mail carries no personal data and no case number: only that there is something to
read."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from sspf.models import Notification, User

EMAIL_SUBJECT = "SSPF samverkan: nya notiser"
EMAIL_BODY = (
    "Du har nya notiser i SSPF samverkan. Logga in för att läsa dem.\n\n"
    "Det här meddelandet innehåller inga personuppgifter."
)


def notify(*, user: User, key: str, text: str, link: str = "") -> bool:
    """Create the notification unless one with this key exists; True if created."""
    try:
        with transaction.atomic():
            Notification.objects.create(user=user, key=key, text=text[:300], link=link)
    except IntegrityError:
        return False
    return True


def email_unread(users: set[User]) -> int:
    """One e-mail per user with an address, only when e-mail is configured."""
    if not getattr(settings, "SSPF_NOTIFY_BY_EMAIL", False):
        return 0
    sent = 0
    for user in users:
        if user.email and user.is_active:
            send_mail(EMAIL_SUBJECT, EMAIL_BODY, None, [user.email])
            sent += 1
    return sent


def unread(user: User, limit: int = 10):
    return Notification.objects.filter(user=user, read_at__isnull=True)[:limit]


def mark_all_read(user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now())

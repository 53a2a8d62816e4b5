"""Sending in-app notifications, and the e-mail that tells a person to log in. The
e-mail carries no personal data and no case number: only that there is something to
read.

The e-mail is sent after the notifications exist and each is marked when its e-mail
has gone, so a run that fails half-way (the mail server down, one address refused)
is completed by the next run and nobody is mailed twice about the same notification.
A failure is logged with the user's id only."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from sspf.models import Notification, User

logger = logging.getLogger(__name__)

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


def email_pending() -> int:
    """One e-mail to each active user with an address who has unread notifications not
    yet e-mailed, when e-mail is configured; returns how many were sent. A notification
    read in the app needs no e-mail. Each user's notifications are locked while their
    e-mail is sent, so two runs at once do not both send it."""
    if not getattr(settings, "SSPF_NOTIFY_BY_EMAIL", False):
        return 0
    pending = Notification.objects.filter(emailed_at__isnull=True, read_at__isnull=True)
    users = User.objects.filter(is_active=True, pk__in=pending.values("user_id")).exclude(
        email="").order_by("pk")
    sent = 0
    for user in users:
        try:
            sent += _email_one(user, pending)
        except Exception as exc:  # the next user is still mailed; this one on the next run
            logger.warning("notification e-mail to user #%s failed (%s)", user.pk,
                           type(exc).__name__)
    return sent


def _email_one(user: User, pending) -> int:
    with transaction.atomic():
        ids = list(pending.filter(user=user).select_for_update(skip_locked=True)
                   .values_list("pk", flat=True))
        if not ids:
            return 0
        send_mail(EMAIL_SUBJECT, EMAIL_BODY, None, [user.email])
        Notification.objects.filter(pk__in=ids).update(emailed_at=timezone.now())
    return 1


def unread(user: User, limit: int = 10):
    return Notification.objects.filter(user=user, read_at__isnull=True)[:limit]


def mark_all_read(user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now())

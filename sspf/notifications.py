"""Sending in-app notifications, and the e-mail that tells a person to log in. The
e-mail carries no personal data and no case number: only that there is something to
read. Some notifications are e-mailed at once (``notify_now``): a security notice (an
administrator reset the account's password or second factor) with its own text, since
the owner may no longer be able to log in to read it, and news a lead coordinator should
not wait a day for.

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


def pending_body(count: int) -> str:
    """The e-mail about unread notifications: how many, and where to log in; nothing
    about what they concern."""
    site = getattr(settings, "SSPF_SITE_URL", "")
    things = "1 ny notis" if count == 1 else f"{count} nya notiser"
    link = f"\n\n{site}/" if site else ""
    return (f"Du har {things} i SSPF samverkan, till exempel uppföljningar eller åtaganden "
            f"som förfaller. Logga in för att läsa dem.{link}\n\n"
            "Det här meddelandet innehåller inga personuppgifter.")


def notify(*, user: User, key: str, text: str, link: str = "") -> bool:
    """Create the notification unless one with this key exists; True if created."""
    try:
        with transaction.atomic():
            Notification.objects.create(user=user, key=key, text=text[:300], link=link)
    except IntegrityError:
        return False
    return True


SECURITY_SUBJECT = "SSPF samverkan: ditt konto har ändrats"


def notify_now(*, user: User, key: str, text: str, subject: str, body: str,
               link: str = "", also_to: str = "") -> bool:
    """A notification that is also e-mailed, with its own subject and body (no personal
    data), as soon as the caller's transaction commits, when e-mail is configured; to
    ``also_to`` too (the address the account had before a change). If sending fails,
    the next ``email_pending`` run sends the usual e-mail instead."""
    created = notify(user=user, key=key, text=text, link=link)
    recipients = list(dict.fromkeys(a for a in (user.email, also_to) if a))
    if created and getattr(settings, "SSPF_NOTIFY_BY_EMAIL", False) and recipients:
        transaction.on_commit(lambda: _email_notice(user, key, subject, body, recipients))
    return created


def _email_notice(user: User, key: str, subject: str, body: str, recipients: list[str]
                  ) -> None:
    try:
        send_mail(subject, body, None, recipients)
    except Exception as exc:  # the notification stays unsent; email_pending tries again
        logger.warning("security e-mail to user #%s failed (%s)", user.pk, type(exc).__name__)
        return
    Notification.objects.filter(user=user, key=key).update(emailed_at=timezone.now())


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
        send_mail(EMAIL_SUBJECT, pending_body(len(ids)), None, [user.email])
        Notification.objects.filter(pk__in=ids).update(emailed_at=timezone.now())
    return 1


def unread(user: User, limit: int = 10):
    return Notification.objects.filter(user=user, read_at__isnull=True)[:limit]


def mark_all_read(user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now())

"""Login events and the chaining of django-auditlog's change history.

Logins are recorded from Django's and django-axes' signals. A failed login or a
lockout has no actor: whoever typed the password is unknown, and crediting the
account that was typed would show an attacker's attempts as the victim's own actions
to an auditor filtering by person. The account, if it exists, is the event's object.
Every LogEntry that django-auditlog writes is linked into the hash chain in the same
transaction.
"""

from __future__ import annotations

from auditlog.models import LogEntry
from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from audit import chain
from audit.events import record
from audit.models import Action, ChainLink, Outcome


def _known_account(username: str | None):
    """The account a login attempt names, if it exists. An unknown name is not stored:
    people mistype passwords into the username field."""
    if not username:
        return None
    User = get_user_model()
    return User.objects.filter(**{User.USERNAME_FIELD: username}).first()


@receiver(user_logged_in)
def _password_accepted(sender, request, user, **kwargs):
    record(action=Action.PASSWORD_OK, actor=user)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    account = _known_account(credentials.get("username"))
    record(
        action=Action.LOGIN_FAILED,
        actor=AnonymousUser(),  # neither the account typed nor whoever the session belongs to
        outcome=Outcome.DENIED,
        object_type="" if account is None else "sspf.User",
        object_id=None if account is None else account.pk,
    )


@receiver(user_locked_out)
def _locked_out(sender, request, username, ip_address, **kwargs):
    account = _known_account(username)
    record(
        action=Action.LOCKOUT,
        actor=AnonymousUser(),
        outcome=Outcome.DENIED,
        object_type="" if account is None else "sspf.User",
        object_id=None if account is None else account.pk,
    )


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        record(action=Action.LOGOUT, actor=user)


@receiver(post_save, sender=LogEntry)
def _chain_change_entry(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        chain.append(ChainLink.RecordType.CHANGE, instance, reread=True)

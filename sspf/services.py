"""Writes of the collaboration core: staff accounts and their second factor.

Every change an administrator makes to an account is an access event: an account's
role, organisation, password and second factor decide what it can read, so changing
them is how an administrator could reach case content through someone else's account.
The events let the log review see a reset followed by a login. A change of role or
organisation also ends the account's case-team memberships (the team was chosen for
the person in their old work); the cases app registers how, so this module does not
depend on it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

import audit
from audit.models import Action
from sspf.models import Organisation, User
from sspf.roles import Role

# Fields of an account whose change is recorded, by name; never their values.
RECORDED_FIELDS = ("username", "first_name", "last_name", "email", "organisation", "role",
                   "is_active", "is_superuser")


class ReassignmentHook:
    """What another part does when an account changes role or organisation:
    ``refusal(account)`` returns a message when the change must wait (None otherwise);
    ``end(account, actor)`` ends what the account had through its old work."""

    def __init__(self, refusal: Callable[[User], str | None],
                 end: Callable[[User, User | None], None]):
        self.refusal, self.end = refusal, end


_reassignment_hooks: list[ReassignmentHook] = []


def register_reassignment_hook(hook: ReassignmentHook) -> None:
    if all(h.end is not hook.end for h in _reassignment_hooks):
        _reassignment_hooks.append(hook)


def reassignment_refusal(account: User) -> str | None:
    """Why the account's role or organisation cannot change now, if it cannot."""
    for hook in _reassignment_hooks:
        message = hook.refusal(account)
        if message:
            return message
    return None


def _reassigned(before: User | None, role: str, organisation_id: int | None) -> bool:
    return before is not None and (before.role != role
                                   or before.organisation_id != organisation_id)


def _end_old_work(before: User, actor: User | None) -> None:
    refusal = reassignment_refusal(before)
    if refusal:
        raise ValidationError({"organisation": [refusal]})
    for hook in _reassignment_hooks:
        hook.end(before, actor)


def _record_account(actor, account: User, action: str, fields=()) -> None:
    audit.record(action=action, actor=actor, object_type="sspf.User", object_id=account.pk,
                 purpose=", ".join(f for f in RECORDED_FIELDS if f in fields))


@transaction.atomic
def staff_account_save(
    *,
    username: str,
    role: str,
    organisation: Organisation | None,
    password: str | None = None,
    is_superuser: bool = False,
    actor: User | None = None,
) -> User:
    """Create or update a staff account so that it acts in exactly one role.

    The role's group is the account's only group. Superusers administer the system;
    they get no access to case content from that flag (see cases.policy). With an
    ``actor`` (a person administering accounts) the change is recorded; without one it
    is the setup of an installation (``seed_demo``, an operator's shell), which the
    access log does not cover.
    """
    role = Role(role)
    before = User.objects.filter(username=username).first()
    organisation_id = organisation.pk if organisation else None
    if _reassigned(before, role, organisation_id):
        _end_old_work(before, actor)
    user = before or User(username=username)
    changed = [name for name, old, new in (
        ("role", user.role, role), ("organisation", user.organisation_id, organisation_id),
        ("is_superuser", user.is_superuser, is_superuser)) if old != new]
    user.role = role
    user.organisation = organisation
    user.is_superuser = is_superuser
    user.is_staff = role == Role.ADMINISTRATOR
    if password is not None:
        user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.set([Group.objects.get(name=str(role))])
    if actor is not None:
        if before is None:
            _record_account(actor, user, Action.ACCOUNT_CREATED, RECORDED_FIELDS)
        elif changed:
            _record_account(actor, user, Action.ACCOUNT_CHANGED, changed)
        if before is not None and password is not None:
            _record_account(actor, user, Action.PASSWORD_SET)
    return user


@transaction.atomic
def staff_account_admin_save(*, actor: User, account: User, changed: list[str],
                             created: bool) -> User:
    """Save an account edited in the admin (``account`` holds the new values, not yet
    saved), keep its role group in step and record what changed, by field name."""
    before = None if created else User.objects.get(pk=account.pk)
    if _reassigned(before, account.role, account.organisation_id):
        _end_old_work(before, actor)
    account.is_staff = account.role == Role.ADMINISTRATOR
    account.save()
    account.groups.set([Group.objects.get(name=str(Role(account.role)))])
    if created:
        _record_account(actor, account, Action.ACCOUNT_CREATED, RECORDED_FIELDS)
    elif changed:  # the password has a form of its own (staff_password_set_record)
        _record_account(actor, account, Action.ACCOUNT_CHANGED, changed)
    return account


def staff_password_set_record(*, actor: User, account: User) -> None:
    """Record that an administrator set an account's password, in the transaction that
    saved it (Django's admin password form does the setting)."""
    _record_account(actor, account, Action.PASSWORD_SET)


@transaction.atomic
def staff_otp_reset(*, actor: User, account: User) -> int:
    """Remove an account's second factor, so that it enrols a new one at its next login
    (the owner lost the phone). Returns the number of devices removed."""
    removed, _ = TOTPDevice.objects.filter(user=account).delete()
    _record_account(actor, account, Action.OTP_RESET)
    return removed


def totp_device_for_enrolment(user: User) -> TOTPDevice:
    """A fresh unconfirmed device; an earlier unfinished enrolment is discarded so a
    secret is shown only once."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="TOTP", confirmed=False)


def confirmed_totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()

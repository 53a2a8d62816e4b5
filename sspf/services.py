"""Writes of the collaboration core: staff accounts and their second factor."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from sspf.models import Organisation, User
from sspf.roles import Role


@transaction.atomic
def staff_account_save(
    *,
    username: str,
    role: str,
    organisation: Organisation | None,
    password: str | None = None,
    is_superuser: bool = False,
) -> User:
    """Create or update a staff account so that it acts in exactly one role.

    The role's group is the account's only group. Superusers administer the system;
    they get no access to case content from that flag (see cases.policy).
    """
    role = Role(role)
    user, _created = User.objects.get_or_create(username=username)
    user.role = role
    user.organisation = organisation
    user.is_superuser = is_superuser
    user.is_staff = role == Role.ADMINISTRATOR
    if password is not None:
        user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.set([Group.objects.get(name=str(role))])
    return user


def totp_device_for_enrolment(user: User) -> TOTPDevice:
    """A fresh unconfirmed device; an earlier unfinished enrolment is discarded so a
    secret is shown only once."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="TOTP", confirmed=False)


def confirmed_totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()

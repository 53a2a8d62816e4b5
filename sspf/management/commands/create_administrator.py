"""Create an administrator account, or give a forgotten password to one, on the server.

Administrators are made here and not in the admin: an administrator who could create
another administrator account could approve their own reset requests with it (see
sspf.services). Whoever runs this has the server, and with it the keys; the command is
recorded in the access log as an operator's act."""

import getpass

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

import audit
from audit.models import Action
from sspf.models import User
from sspf.roles import Role
from sspf.services import staff_account_save


class Command(BaseCommand):
    help = ("Creates an administrator account (or sets the password of an existing one); "
            "the password is asked for twice and never echoed.")

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        field = User._meta.get_field("username")
        try:
            field.clean(username, None)
        except ValidationError as exc:
            raise CommandError(f"username: {' '.join(exc.messages)}") from None
        existing = User.objects.filter(username=username).first()
        if existing is not None and existing.role != Role.ADMINISTRATOR:
            raise CommandError(f"{username!r} is an account of another role; an administrator "
                               "account is a separate account.")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password again: "):
            raise CommandError("The passwords differ.")
        try:
            validate_password(password, User(username=username))
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        with transaction.atomic():
            account = staff_account_save(username=username, role=Role.ADMINISTRATOR,
                                         organisation=None, password=password,
                                         is_superuser=True)
            audit.record(action=Action.ACCOUNT_CREATED if existing is None
                         else Action.PASSWORD_SET, actor=None, object_type="sspf.User",
                         object_id=account.pk, purpose="by an operator on the server "
                         "(create_administrator)")
        self.stdout.write(f"Administrator {username} is ready; the second factor is enrolled "
                          "at the first login.")

from django.core.management.base import BaseCommand, CommandError

from sspf.models import User
from sspf.tokens import issue_token


class Command(BaseCommand):
    help = "Issues a personal API token for USERNAME; the key is the last line of output."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--days", type=int, default=30, help="validity in days (default 30)")
        parser.add_argument("--name", default="", help="a label for the token")

    def handle(self, *args, username, days, name, **options):
        from datetime import timedelta

        if not 1 <= days <= 365:
            raise CommandError("--days must be between 1 and 365.")
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active account named {username!r}.")
        token, key = issue_token(user=user, name=name or "issue_token",
                                 lifetime=timedelta(days=days))
        until = f"{token.expires_at:%Y-%m-%d %H:%M %Z}"
        self.stdout.write(f"Token for {username}, valid until {until}.")
        self.stdout.write("The key is shown only now:")
        self.stdout.write(key)

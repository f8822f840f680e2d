from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from herald_live.actions import service_tokens


class Command(BaseCommand):
    help = "Create a token for the HTTP API. It is printed once; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("name", help="who uses it, e.g. billing-service")
        parser.add_argument(
            "--everyone",
            action="store_true",
            help='allow it to send to every active user ("recipients": "everyone"); off by default',
        )

    def handle(self, *args, name: str, everyone: bool, **options):
        try:
            token = service_tokens.create(name=name, can_send_to_everyone=everyone)
        except IntegrityError:
            raise CommandError(f"a token named {name!r} exists already; revoke it or pick another name") from None
        # Only the token goes to stdout, so that scripts can capture it; the note goes to stderr.
        self.stdout.write(token)
        if everyone:
            self.stderr.write(f"{name!r} may send to everyone.")

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from herald_live import tokens


class Command(BaseCommand):
    help = "Create a token for the HTTP API. It is printed once; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("name", help="who uses it, e.g. billing-service")

    def handle(self, *args, name: str, **options):
        try:
            token = tokens.create(name=name)
        except IntegrityError:
            raise CommandError(f"a token named {name!r} exists already; revoke it or pick another name") from None
        self.stdout.write(token)

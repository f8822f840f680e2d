from django.core.management.base import BaseCommand, CommandError

from herald_live.actions import service_tokens


class Command(BaseCommand):
    help = "Revoke a token of the HTTP API at once."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name: str, **options):
        if not service_tokens.revoke(name=name):
            raise CommandError(f"no live token named {name!r}")
        self.stdout.write(f"revoked {name}")

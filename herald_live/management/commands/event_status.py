import json

from django.core.management.base import BaseCommand, CommandError

from herald_live import producers
from herald_live.models import Event


class Command(BaseCommand):
    help = "Print an event's status and counts as JSON."

    def add_arguments(self, parser):
        parser.add_argument("event_id", type=int)

    def handle(self, *args, event_id: int, **options):
        try:
            self.stdout.write(json.dumps(producers.event_status(event_id), indent=2))
        except Event.DoesNotExist:
            raise CommandError(f"no event {event_id}") from None

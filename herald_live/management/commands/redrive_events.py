from django.core.management.base import BaseCommand

from herald_live.conf import app_settings
from herald_live.delivery.redrive import redrive_stalled_events


class Command(BaseCommand):
    help = "Enqueue again the events recorded but not done (what Celery beat's herald.redrive does every minute)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=app_settings.REDRIVE_AFTER_SECONDS,
            help="only events untouched for this many seconds (default: HERALD_REDRIVE_AFTER_SECONDS)",
        )

    def handle(self, *args, older_than: int, **options):
        event_ids = redrive_stalled_events(older_than_seconds=older_than)
        self.stdout.write(f"enqueued {len(event_ids)} event(s) again: {event_ids}")

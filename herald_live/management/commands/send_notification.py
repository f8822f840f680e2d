"""``manage.py send_notification``: the Python API (producers.notify) from the shell."""

from __future__ import annotations

import json
import sys
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from herald_live import notification_types, producers
from herald_live.actions.sending import BrokerUnavailable
from herald_live.models import Event


class Command(BaseCommand):
    help = "Send a notification to users or to everyone; --wait follows the fan-out until it is done."

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--everyone", action="store_true", help="every active user")
        who.add_argument("--user", action="append", metavar="USERNAME", help="a recipient (repeatable)")
        who.add_argument("--user-id", action="append", type=int, metavar="ID", help="a recipient's id (repeatable)")
        parser.add_argument("--verb", required=True, help="the message")
        parser.add_argument("--level", default="info", choices=producers.LEVELS)
        parser.add_argument(
            "--type",
            dest="notification_type",
            default=notification_types.DEFAULT,
            metavar="TYPE",
            help=f"a registered notification type, which preferences follow (default: {notification_types.DEFAULT})",
        )
        parser.add_argument("--actor", metavar="USERNAME", help="who it is from (default: the system)")
        parser.add_argument("--data", help="a JSON object carried with each notification")
        parser.add_argument("--idempotency-key", help="the same key gives the same event, never a second one")
        parser.add_argument("--wait", action="store_true", help="follow the fan-out with a progress bar")
        parser.add_argument("--timeout", type=float, default=3600, help="seconds --wait waits at most")

    def handle(self, *args, **options):
        User = get_user_model()
        try:
            if options["everyone"]:
                recipients = producers.EVERYONE
            elif options["user"]:
                names = options["user"]
                for name in names:
                    producers.check_text(name, name="--user")
                found = dict(User.objects.filter(username__in=names).values_list("username", "pk"))
                missing = [name for name in names if name not in found]
                if missing:
                    raise CommandError(f"no such user: {', '.join(missing)}")
                recipients = [found[name] for name in names]
            else:
                recipients = options["user_id"]
            actor = None
            if options["actor"]:
                producers.check_text(options["actor"], name="--actor")
                actor = User.objects.filter(username=options["actor"]).first()
                if actor is None:
                    raise CommandError(f"no such user: {options['actor']}")
            data = json.loads(options["data"]) if options["data"] else None
            event_id = producers.notify(
                recipients=recipients,
                verb=options["verb"],
                actor=actor,
                level=options["level"],
                data=data,
                idempotency_key=options["idempotency_key"],
                notification_type=options["notification_type"],
            )
        except json.JSONDecodeError as exc:
            raise CommandError(f"--data is not JSON: {exc}") from None
        except producers.InvalidNotification as exc:
            raise CommandError(str(exc)) from None
        except BrokerUnavailable:
            raise CommandError("the message queue does not answer; nothing was sent") from None
        self.stdout.write(f"event {event_id} queued")
        if options["wait"]:
            self._follow(event_id, timeout=options["timeout"])

    def _follow(self, event_id: int, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        status = producers.event_status(event_id)
        while status["status"] not in (Event.Status.DONE, Event.Status.FAILED):
            self._progress(status)
            if time.monotonic() > deadline:
                raise CommandError(f"event {event_id} is not done after {timeout:g} s: {status['status']}")
            time.sleep(0.5)
            status = producers.event_status(event_id)
        self._progress(status)
        sys.stderr.write("\n")
        self.stdout.write(json.dumps(status))
        if status["status"] == Event.Status.FAILED:
            raise CommandError(f"event {event_id} failed; the re-drive will try it again")

    def _progress(self, status: dict) -> None:
        total, done = status["chunks_total"], status["chunks_done"]
        share = done / total if total else (1.0 if status["status"] == Event.Status.DONE else 0.0)
        bar = "#" * int(share * 30)
        sys.stderr.write(
            f"\r[{bar:<30}] {share:4.0%}  chunks {done}/{total}  rows {status['rows_persisted']:,}"
            f"  sessions {status['sessions_published']:,}  {status['status']}   "
        )
        sys.stderr.flush()

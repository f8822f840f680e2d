from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

from herald_live import retention
from herald_live.conf import app_settings

WHAT = {
    retention.OLD: "notifications older than the ALL cutoff, read or not",
    retention.READ: "read notifications older than the READ cutoff",
    retention.EVENTS: "finished events nothing points at any more",
    retention.CHUNKS: "chunk rows of those events",
    retention.DIGESTS: "email digest records older than the events' cutoff, each user's latest kept",
}


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise CommandError(f"expected a number, got {value!r}") from None
    if number <= 0:
        raise CommandError(f"expected a number above 0, got {value!r}")
    return number


class Command(BaseCommand):
    help = (
        "Delete old notifications and the events nothing points at any more, in batches (what Celery beat's "
        "herald.purge does every hour, there within HERALD_RETENTION_MAX_SECONDS). See docs/operations.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted; delete nothing")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help="rows per batch, each its own transaction (default: HERALD_RETENTION_BATCH_SIZE)",
        )
        parser.add_argument(
            "--max-seconds",
            type=_positive,
            default=None,
            help="stop between two batches after this long (default: no limit); run again to go on",
        )

    def handle(self, *args, dry_run: bool, batch_size: int | None, max_seconds: float | None, **options):
        batch_size = app_settings.RETENTION_BATCH_SIZE if batch_size is None else batch_size
        if batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1, got {batch_size}")
        verbose = options["verbosity"] >= 1
        try:
            report = retention.purge(
                now=timezone.now(),
                dry_run=dry_run,
                batch_size=batch_size,
                max_seconds=max_seconds,
                progress=self._progress if verbose else None,
            )
        except ImproperlyConfigured as exc:
            raise CommandError(f"the retention settings are wrong: {exc}") from None
        except DatabaseError as exc:
            raise CommandError(f"the database refused the purge ({exc}); batches already done stay done") from None
        cutoffs = report["cutoffs"]
        self.stdout.write(
            f"cutoffs: read {cutoffs['read']}, all {cutoffs['all'] or 'never (unread kept for ever)'}, "
            f"events {cutoffs['events']}"
        )
        verb = "would delete (dry run, nothing deleted)" if dry_run else "deleted"
        for kind, count in report["counts"].items():
            self.stdout.write(f"{verb}: {count} {kind} ({WHAT[kind]})")
        if not dry_run:
            ending = "complete" if report["complete"] else "stopped at --max-seconds; run again to go on"
            self.stdout.write(f"{report['batches']} batch(es) in {report['seconds']:.1f} s, {ending}")

    def _progress(self, batch: retention.Batch) -> None:
        self.stdout.write(
            f"  {batch.kind}: {batch.deleted} deleted of {batch.selected} selected"
            f" (select {batch.select_seconds * 1000:.0f} ms, delete {batch.seconds * 1000:.0f} ms)"
        )

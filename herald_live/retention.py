"""Retention: old notifications, and the events nothing points at any more, deleted in small batches.

What goes (docs/operations.md, "Retention"):

- notifications read (or soft-deleted) older than ``HERALD_RETENTION_READ_DAYS``;
- every notification older than ``HERALD_RETENTION_ALL_DAYS`` (``None``: unread ones are kept for ever);
- events done or failed, untouched since before the events' cutoff (the second setting, or the first when
  it is ``None``), that no notification points at any more, with their chunk rows;
- records of email digests older than the events' cutoff, except each user's latest (the spacing of the
  next digest is measured from it).

Each batch first reads a bounded set of primary keys (an index range, no transaction), then deletes those
rows in a transaction of its own, checking the conditions again. So a lock is held for one batch at most,
and sends, reads and "mark as read" carry on meanwhile (docs/benchmark.md, "Retention").

Ids are never reused (PostgreSQL sequences, SQLite AUTOINCREMENT): a client that saw a deleted id still
gets every newer notification by id (docs/guarantees.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router, transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from notifications.swappable import load_notification_model as notification_model

from herald_live.conf import app_settings
from herald_live.models import EmailDigest, Event, EventChunk

logger = logging.getLogger(__name__)

# What the counts are called, in the report, the command's output and the progress callback.
OLD = "notifications_old"
READ = "notifications_read"
EVENTS = "events"
CHUNKS = "event_chunks"
DIGESTS = "email_digests"
# Events in these states are finished with; queued or fanning-out ones are never touched.
FINISHED = (Event.Status.DONE, Event.Status.FAILED)


@dataclass(frozen=True)
class Cutoffs:
    read: datetime
    all: datetime | None
    events: datetime


@dataclass(frozen=True)
class Batch:
    """One committed batch: what it deleted and how long its transaction (its locks) lasted."""

    kind: str
    deleted: int
    selected: int
    select_seconds: float
    seconds: float


def settings_problems() -> list[str]:
    """What is wrong with the retention settings, in words an operator can act on (system check E010)."""

    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    read, old = app_settings.RETENTION_READ_DAYS, app_settings.RETENTION_ALL_DAYS
    batch, budget = app_settings.RETENTION_BATCH_SIZE, app_settings.RETENTION_MAX_SECONDS
    problems = []
    if not whole(read):
        problems.append(f"HERALD_RETENTION_READ_DAYS must be a whole number of days above 0, got {read!r}.")
    if old is not None and not whole(old):
        problems.append(f"HERALD_RETENTION_ALL_DAYS must be a whole number of days above 0 or None, got {old!r}.")
    elif old is not None and whole(read) and old < read:
        problems.append(
            f"HERALD_RETENTION_ALL_DAYS ({old}) must be at least HERALD_RETENTION_READ_DAYS ({read}): "
            "an unread notification is never deleted before a read one of the same age."
        )
    if not whole(batch):
        problems.append(f"HERALD_RETENTION_BATCH_SIZE must be a whole number above 0, got {batch!r}.")
    if isinstance(budget, bool) or not isinstance(budget, int | float) or budget <= 0:
        problems.append(f"HERALD_RETENTION_MAX_SECONDS must be a number of seconds above 0, got {budget!r}.")
    return problems


def cutoffs(*, now: datetime) -> Cutoffs:
    problems = settings_problems()
    if problems:
        raise ImproperlyConfigured(" ".join(problems))
    read = now - timedelta(days=app_settings.RETENTION_READ_DAYS)
    old = app_settings.RETENTION_ALL_DAYS
    everything = now - timedelta(days=old) if old is not None else None
    return Cutoffs(read=read, all=everything, events=everything or read)


def purge(
    *,
    now: datetime,
    dry_run: bool = False,
    batch_size: int,
    max_seconds: float | None = None,
    progress: Callable[[Batch], None] | None = None,
) -> dict[str, Any]:
    """Deletes what retention lets go, oldest first; with ``dry_run``, only counts it.

    Stops between two batches once ``max_seconds`` have passed (``complete`` is then False); the next run
    goes on from there. ``progress`` is called after each committed batch.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number above 0, got {batch_size!r}")
    limits = cutoffs(now=now)
    started = time.monotonic()
    counts = dict.fromkeys((OLD, READ, EVENTS, CHUNKS, DIGESTS), 0)
    report: dict[str, Any] = {
        "dry_run": dry_run,
        "cutoffs": {
            "read": limits.read.isoformat(),
            "all": limits.all.isoformat() if limits.all else None,
            "events": limits.events.isoformat(),
        },
        "counts": counts,
        "batches": 0,
        "complete": True,
    }
    if dry_run:
        counts.update(_would_go(limits))
        report["seconds"] = round(time.monotonic() - started, 3)
        return report

    def out_of_time() -> bool:
        return max_seconds is not None and time.monotonic() - started >= max_seconds

    def record(batch: Batch) -> None:
        report["batches"] += 1
        if progress is not None:
            progress(batch)

    passes = [(OLD, notifications_going(limits, kind=OLD))] if limits.all else []
    passes.append((READ, notifications_going(limits, kind=READ)))
    for kind, rows in passes:
        for batch in _delete_rows(rows, kind=kind, order="timestamp", batch_size=batch_size, out_of_time=out_of_time):
            counts[kind] += batch.deleted
            record(batch)
        if out_of_time():
            break
    else:
        for batch, chunks in _delete_events(limits, batch_size=batch_size, out_of_time=out_of_time):
            counts[EVENTS] += batch.deleted
            counts[CHUNKS] += chunks
            record(batch)
        digests = _old_digests(limits)
        for batch in _delete_rows(
            digests, kind=DIGESTS, order="created_at", batch_size=batch_size, out_of_time=out_of_time
        ):
            counts[DIGESTS] += batch.deleted
            record(batch)
    report["complete"] = not out_of_time() or _nothing_left(limits)
    report["seconds"] = round(time.monotonic() - started, 3)
    if report["batches"] or not report["complete"]:
        logger.info(
            "retention purge %s batches=%s complete=%s seconds=%s",
            " ".join(f"{kind}={n}" for kind, n in counts.items()),
            report["batches"],
            report["complete"],
            report["seconds"],
        )
    return report


# --- what goes ------------------------------------------------------------------------------------------------


def notifications_going(limits: Cutoffs, *, kind: str) -> QuerySet:
    """The notifications of one pass: all of them older than the ALL cutoff, or the read ones older than READ."""
    rows = notification_model().objects.all()
    if kind == OLD:
        return rows.filter(timestamp__lt=limits.all)
    return rows.filter(timestamp__lt=limits.read).filter(Q(unread=False) | Q(deleted=True))


def _doomed(limits: Cutoffs) -> Q:
    """Every notification a complete run deletes, as one condition."""
    read = Q(timestamp__lt=limits.read) & (Q(unread=False) | Q(deleted=True))
    return read | Q(timestamp__lt=limits.all) if limits.all else read


def finished_events(limits: Cutoffs, *, still_there: QuerySet) -> QuerySet:
    """Events finished with and untouched since the cutoff, that no row of ``still_there`` points at."""
    pointing = still_there.filter(
        action_object_content_type=ContentType.objects.get_for_model(Event),
        # The generic key is text: compare it with the event's id as text, so that its index is used.
        action_object_object_id=Cast(OuterRef("pk"), output_field=CharField()),
    )
    return Event.objects.filter(status__in=FINISHED, updated_at__lt=limits.events).filter(~Exists(pointing))


def _old_digests(limits: Cutoffs) -> QuerySet:
    """Digest records older than the events' cutoff that are not their user's latest."""
    newer = EmailDigest.objects.filter(user_id=OuterRef("user_id"), pk__gt=OuterRef("pk"))
    return EmailDigest.objects.filter(created_at__lt=limits.events).filter(Exists(newer))


def _would_go(limits: Cutoffs) -> dict[str, int]:
    notifications = notification_model().objects.all()
    old = notifications_going(limits, kind=OLD).count() if limits.all else 0
    read = notifications_going(limits, kind=READ)
    if limits.all:
        read = read.filter(timestamp__gte=limits.all)
    events = finished_events(limits, still_there=notifications.exclude(_doomed(limits)))
    return {
        OLD: old,
        READ: read.count(),
        EVENTS: events.count(),
        CHUNKS: EventChunk.objects.filter(event__in=events.values("pk")).count(),
        DIGESTS: _old_digests(limits).count(),
    }


def _nothing_left(limits: Cutoffs) -> bool:
    return not (
        notification_model().objects.filter(_doomed(limits)).exists()
        or finished_events(limits, still_there=notification_model().objects.all()).exists()
        or _old_digests(limits).exists()
    )


# --- batches ----------------------------------------------------------------------------------------------------


def _pk_parts(queryset: QuerySet, pks: list[int]) -> list[list[int]]:
    """The batch's keys in lists a statement can take (SQLite's backend allows 999 parameters)."""
    limit = connections[router.db_for_write(queryset.model)].features.max_query_params
    size = max(1, limit - 50) if limit else len(pks)
    return [pks[i : i + size] for i in range(0, len(pks), size)]


def _batches(rows: QuerySet, *, order: str, batch_size: int, out_of_time: Callable[[], bool]):
    """Keys of ``rows`` a batch at a time, oldest first, as (pks, seconds the read took).

    Keyset on the ordering column: each read starts at the previous batch's last value, so rows kept
    (unread, or still pointed at) are read past once, not again by every later batch.
    """
    floor = None
    while not out_of_time():
        started = time.perf_counter()
        page = rows if floor is None else rows.filter(**{f"{order}__gte": floor})
        found = list(page.order_by(order).values_list("pk", order)[:batch_size])
        seconds = time.perf_counter() - started
        if not found:
            return
        yield [pk for pk, _ in found], seconds
        if len(found) < batch_size:
            return
        floor = found[-1][1]


def _delete_rows(rows: QuerySet, *, kind: str, order: str, batch_size: int, out_of_time: Callable[[], bool]):
    """Deletes ``rows`` (notifications of one pass, or digest records) a batch per transaction, oldest first."""
    for pks, select_seconds in _batches(rows, order=order, batch_size=batch_size, out_of_time=out_of_time):
        started = time.perf_counter()
        deleted = 0
        with transaction.atomic(using=router.db_for_write(rows.model)):
            # The same conditions again: a row that no longer matches (marked unread since it was read) stays.
            for part in _pk_parts(rows, pks):
                deleted += rows.filter(pk__in=part).delete()[1].get(rows.model._meta.label, 0)
        yield Batch(kind, deleted, len(pks), select_seconds, time.perf_counter() - started)


def _delete_events(limits: Cutoffs, *, batch_size: int, out_of_time: Callable[[], bool]):
    """Finished, unreferenced events with their chunk rows (the foreign key's cascade), as (batch, chunks)."""
    events = finished_events(limits, still_there=notification_model().objects.all())
    for pks, select_seconds in _batches(events, order="updated_at", batch_size=batch_size, out_of_time=out_of_time):
        started = time.perf_counter()
        deleted = chunks = 0
        with transaction.atomic(using=router.db_for_write(Event)):
            for part in _pk_parts(events, pks):
                # Only the key is loaded: an event's recipient list and plan can be large.
                _, per_model = events.filter(pk__in=part).only("pk").delete()
                deleted += per_model.get(Event._meta.label, 0)
                chunks += per_model.get(EventChunk._meta.label, 0)
        yield Batch(EVENTS, deleted, len(pks), select_seconds, time.perf_counter() - started), chunks

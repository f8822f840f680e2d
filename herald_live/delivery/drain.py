"""The drain, the interactive path: queued events for one user or a few, fanned out many to a transaction.

A send to one user is the common case and the one people wait for. One task per event cost a
worker about 8 ms of CPU, a quarter of it Celery's own, and nine database round trips: the
machine topped out near 95 events/s (docs/benchmark.md, issue 13). Instead, a send asks for a
drain (``drain_mark.schedule_pending_fan_out``) and one drain takes every queued one-recipient event
at once, in batches: per batch one claim, one read of the events, one query of recipients, one
INSERT of every row, one query of live sessions, the chunk records and the events' "done" in two
statements, one commit, then one Redis message for all of it. Under light load a batch is one
event and the path is as short as before; under heavy load the cost per event falls.

The guarantees are the fan-out's (docs/guarantees.md): the batch's rows, chunk records and "done"
commit together; a worker killed before the commit leaves the events queued for the next drain (or
the redelivered one, acks_late); the publish follows the commit and one that Redis refuses leaves
the events failed for the re-drive, whose per-event fan-out finds the rows in place.
"""

from __future__ import annotations

import logging
import time
from contextlib import suppress

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from notifications.swappable import load_notification_model as notification_model
from redis import RedisError

from herald_live.conf import app_settings
from herald_live.delivery import drain_mark, publish, routing
from herald_live.delivery.rows import live_messages, row_template
from herald_live.infra import bulk_insert, sql
from herald_live.models import Event, EventChunk
from herald_live.push import audience as push_audience
from herald_live.selectors import preferences, sessions, users

logger = logging.getLogger(__name__)

# One-user events per transaction, and recipients of listed events per transaction: a batch's INSERT stays
# well under SQLite's parameter limit and its transaction short beside the send requests that run meanwhile.
BATCH_SIZE = 500
ROWS_PER_BATCH = 1000
# A drain that failed asks for another this much later.
RETRY_AFTER_FAILURE_SECONDS = 5
# A drain that keeps finding work hands over to a new task after this long.
MAX_SECONDS = 5


def drain() -> int:
    """The drain task's work: fans out every queued event, and goes on while more arrive.

    The "drain scheduled" mark stays up while this finds work, so that sends meanwhile enqueue no
    task of their own: they count on this loop, which looks again every ``HERALD_DRAIN_PACE_MS`` at
    most (under load, many sends to a batch). Once a look finds nothing, the mark goes down and one
    more look follows: an event committed before that saw the mark, so it is claimed here; one
    committed after schedules a drain. A drain that runs for MAX_SECONDS hands over to a fresh task
    (a deploy's warm shutdown waits for no endless task). A drain that fails (the database went away)
    asks for another a little later before it gives up: its events are queued again (its transaction
    rolled back), and none of the sends that saw the mark may wait for the re-drive.
    """
    started = held = time.monotonic()
    total = 0
    try:
        drain_mark.hold_pending_fan_out_mark()
        while True:
            looked = time.monotonic()
            if looked - held >= 1:
                drain_mark.hold_pending_fan_out_mark()
                held = looked
            done = fan_out_pending()
            total += done
            if not done:
                drain_mark.take_pending_fan_out_mark()
                done = fan_out_pending()
                total += done
                # More came while the mark went down: carry on, unless a send already scheduled the next drain.
                if not done or not drain_mark.hold_pending_fan_out_mark(only_if_down=True):
                    return total
            if time.monotonic() - started > MAX_SECONDS:
                drain_mark.schedule_pending_fan_out(hand_over=True)
                return total
            time.sleep(max(0.0, app_settings.DRAIN_PACE_MS / 1000 - (time.monotonic() - looked)))
    except Exception:
        with suppress(BrokerError, RedisError):
            drain_mark.take_pending_fan_out_mark()
            drain_mark.schedule_pending_fan_out(countdown=RETRY_AFTER_FAILURE_SECONDS)
        raise


def fan_out_pending(*, batch_size: int = BATCH_SIZE) -> int:
    """Fans out every queued event of the drain, a batch per transaction; returns how many."""
    total = 0
    while True:
        done, full = _fan_out_batch(limit=batch_size)
        total += done
        if not full:
            return total


def _claim(*, limit: int) -> tuple[list[int], bool]:
    """Marks queued events of the drain as being fanned out, in this transaction; (their ids, whether more may wait).

    Up to ``limit`` one-user events, and lists up to ROWS_PER_BATCH recipients in all, so that one batch's
    INSERT stays a statement of bounded size whatever the lists. One statement (a round trip in every drain),
    whatever the database. On PostgreSQL, rows another drain holds are skipped, so concurrent drains split the
    queue; SQLite has one writer, and a write first in the transaction means a second drain waits for the first
    one's commit, then sees those events done.
    """
    table = connection.ops.quote_name(Event._meta.db_table)
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    length = "jsonb_array_length" if connection.vendor == "postgresql" else "json_array_length"
    now = Event._meta.get_field("updated_at").get_db_prep_value(timezone.now(), connection)
    most = {Event.Audience.USER: limit, Event.Audience.USERS: ROWS_PER_BATCH // routing.max_listed()}
    queued = f"SELECT id FROM {table} WHERE status = %s AND audience = %s"  # noqa: S608 - names from the model
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, updated_at = %s "  # noqa: S608 - names from the model
            f"WHERE id IN ({queued} ORDER BY id LIMIT %s{skip_locked}) "
            f"OR id IN ({queued} AND {length}(recipient_ids) <= %s ORDER BY id LIMIT %s{skip_locked}) "
            "RETURNING id, audience",
            [
                Event.Status.FANNING_OUT,
                now,
                Event.Status.QUEUED,
                Event.Audience.USER,
                most[Event.Audience.USER],
                Event.Status.QUEUED,
                Event.Audience.USERS,
                routing.max_listed(),
                most[Event.Audience.USERS],
            ],
        )
        claimed = cursor.fetchall()
    full = any(sum(audience == kind for _, audience in claimed) == count for kind, count in most.items())
    return sorted(pk for pk, _ in claimed), full


def _fan_out_batch(*, limit: int) -> tuple[int, bool]:
    started = time.perf_counter()
    with transaction.atomic():
        ids, full = _claim(limit=limit)
        if not ids:
            return 0, False
        events = _read_events(ids)
        recipients = _recipients(events)
        now = timezone.now()
        templates = {event.pk: row_template(event=event, now=now) for event in events}
        wanted = [(templates[event.pk], user_id) for event in events for user_id in recipients[event.pk]]
        inserted = bulk_insert.insert_rows(rows=wanted)
        rows = {
            (int(event_id), user_id): {"id": pk, "timestamp": now, "unread": True} for pk, user_id, event_id in inserted
        }
        if len(inserted) < len(wanted):
            rows.update(_rows_already_there(events=events, recipients=recipients, found=rows))
        rooms_by_user = sessions.live_session_rooms(
            user_ids={user_id for ids_ in recipients.values() for user_id in ids_}
        )
        messages, counts, pushable = [], {}, []
        for event in events:
            unread = [
                {**rows[(event.pk, user_id)], "recipient_id": user_id}
                for user_id in recipients[event.pk]
                if (event.pk, user_id) in rows and rows[(event.pk, user_id)]["unread"]
            ]
            pushable += [(event, row) for row in unread]
            sent = live_messages(event=event, rows=unread, rooms_by_user=rooms_by_user)
            messages += sent
            counts[event.pk] = (
                len(recipients[event.pk]),
                sum((event.pk, user_id) in rows for user_id in recipients[event.pk]),
                sum(len(rooms) for rooms, _ in sent),
            )
        _record_done(events=events, counts=counts)
        # Each event of the batch is its own one chunk (index 0), recorded done by _record_done.
        transaction.on_commit(lambda: publish.publish_fanned_out(messages=messages, event_ids=ids, chunk=0))
        push_audience.enqueue_rows_on_commit(rows=pushable, rooms_by_user=rooms_by_user)
    logger.info(
        "fan-out batch done events=%s first_event_id=%s rows=%s sessions=%s duration_ms=%d",
        len(events),
        ids[0],
        len(rows),
        sum(count[2] for count in counts.values()),
        (time.perf_counter() - started) * 1000,
    )
    return len(ids), full


def _read_events(ids: list[int]) -> list[Event]:
    """The claimed events with their actors, in two plain statements (herald_live/infra/sql.py); one without actors."""
    pk = sql.quote(Event._meta.pk.column)
    condition, params = sql.one_of(pk, ids)
    statement = f"SELECT * FROM {sql.table(Event)} WHERE {condition} ORDER BY {pk}"  # noqa: S608 - from the model
    events = list(Event.objects.raw(statement, params))
    actor_ids = {event.actor_id for event in events if event.actor_id is not None}
    if actor_ids:
        user = get_user_model()
        condition, params = sql.one_of(sql.quote(user._meta.pk.column), actor_ids)
        statement = f"SELECT * FROM {sql.table(user)} WHERE {condition}"  # noqa: S608 - from the model
        actors = {actor.pk: actor for actor in user.objects.raw(statement, params)}
        for event in events:
            if event.actor_id in actors:
                event.actor = actors[event.actor_id]
    return events


def _recipients(events: list[Event]) -> dict[int, list[int]]:
    """Each event's recipients that get a row: active users who want it in the site (type on, target not
    muted). A query for the whole batch, and the preferences' own (preferences.drop_unwanted)."""
    listed = {
        event.pk: [event.recipient_id] if event.recipient_id else list(event.recipient_ids or []) for event in events
    }
    everyone = {user_id for ids in listed.values() for user_id in ids}
    active = users.active_user_ids(user_ids=everyone)
    return preferences.drop_unwanted({pk: sorted(set(ids) & active) for pk, ids in listed.items()}, events=events)


def _rows_already_there(*, events: list[Event], recipients: dict[int, list[int]], found: dict) -> dict:
    """Rows a racing per-event fan-out (the re-drive's) committed first: found, not doubled."""
    missing = [event for event in events if any((event.pk, user_id) not in found for user_id in recipients[event.pk])]
    rows = (
        notification_model()
        .objects.filter(
            action_object_content_type=ContentType.objects.get_for_model(Event),
            action_object_object_id__in=[str(event.pk) for event in missing],
            recipient_id__in={user_id for event in missing for user_id in recipients[event.pk]},
        )
        .values("id", "recipient_id", "timestamp", "unread", "action_object_object_id")
    )
    return {(int(row["action_object_object_id"]), row["recipient_id"]): row for row in rows}


def _record_done(*, events: list[Event], counts: dict[int, tuple[int, int, int]]) -> None:
    """Each event is its own one chunk, done: its chunk record and its counts, in two statements."""
    now = timezone.now()
    chunks = []
    for event in events:
        recipients, stored, reached = counts[event.pk]
        chunks.append(EventChunk(event=event, index=0, recipients=recipients, rows=stored, sessions=reached))
        event.plan = [[0, 1]] if event.audience == Event.Audience.USER else [[0, len(event.recipient_ids)]]
        event.chunks_total, event.status, event.completed_at, event.updated_at = 1, Event.Status.DONE, now, now
        event.recipients_count, event.rows_persisted, event.sessions_published = recipients, stored, reached
    bulk_insert.insert_many(chunks)
    # One statement per event, sent as one batch (psycopg pipelines executemany): the ORM's bulk_update
    # builds a CASE per column and cost more CPU than the rest of a one-event batch.
    quote = connection.ops.quote_name
    columns = ["plan", "chunks_total", "status", "completed_at", "updated_at", "recipients_count", "rows_persisted"]
    fields = [Event._meta.get_field(name) for name in [*columns, "sessions_published"]]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    statement = f"UPDATE {quote(Event._meta.db_table)} SET {assignments} WHERE id = %s"  # noqa: S608 - names from the model
    params = [
        [*(field.get_db_prep_save(getattr(event, field.attname), connection) for field in fields), event.pk]
        for event in events
    ]
    with connection.cursor() as cursor:
        cursor.executemany(statement, params)
    if logger.isEnabledFor(logging.INFO):
        for event in events:
            logger.info(
                "fan-out done event_id=%s recipients=%s rows=%s sessions=%s",
                event.pk,
                event.recipients_count,
                event.rows_persisted,
                event.sessions_published,
            )

"""The fan-out: from one recorded event to a notification row and a live message per recipient.

Sends to one user or a few are fanned out many at a time by the drain (drain.py); this module fans out
the rest, and any event the re-drive hands it. ``fan_out_event`` plans an event into chunks of
recipients. A one-chunk event is done right there (no second hop); a larger one becomes one
``herald.fan_out_chunk`` task per chunk on the bulk queue, which any number of workers
run in parallel. Each chunk, in one transaction: inserts its rows in bulk, finds the live
sessions of its recipients in one query, records itself (EventChunk); after commit it
publishes one Redis message for the whole chunk. Re-runs are safe at every step.
"""

from __future__ import annotations

import logging
import time

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from herald_live.conf import app_settings
from herald_live.delivery import publish, routing, rows
from herald_live.infra import jobs
from herald_live.models import Event, EventChunk
from herald_live.push import audience as push_audience
from herald_live.selectors import preferences, sessions, users

logger = logging.getLogger(__name__)
User = get_user_model()


def _make_plan(event: Event, size: int) -> list[list[int]]:
    """Chunk boundaries, fixed once: a re-run works on the same chunks."""
    if event.audience == Event.Audience.EVERYONE:
        return [[chunk[0], chunk[-1]] for chunk in users.active_user_id_chunks(size=size)]
    if event.audience == Event.Audience.USER:
        return [[0, 1]]
    count = len(event.recipient_ids or [])
    return [[start, min(start + size, count)] for start in range(0, count, size)]


def _chunk_user_ids(event: Event, bounds: list[int]) -> list[int]:
    """The chunk's recipients: active, and wanting this event in the site (type on, target not muted).

    One query whatever the preferences: they are subqueries of it (preferences.in_app_recipients).
    """
    active = User.objects.filter(is_active=True)
    if event.audience == Event.Audience.EVERYONE:
        first, last = bounds
        chunk = active.filter(pk__gte=first, pk__lte=last)
    elif event.audience == Event.Audience.USER:
        chunk = active.filter(pk=event.recipient_id)
    else:
        chunk = active.filter(pk__in=event.recipient_ids[bounds[0] : bounds[1]])
    chunk = preferences.in_app_recipients(chunk, event=event)
    return list(chunk.order_by("pk").values_list("pk", flat=True))


def fan_out_event(*, event_id: int) -> Event:
    """Plans the event; runs a single chunk inline, or enqueues every chunk not yet done."""
    event = Event.objects.select_related("actor").get(pk=event_id)
    if event.status == Event.Status.DONE:
        return event
    fresh = event.plan is None
    if fresh and event.audience != Event.Audience.EVERYONE:
        plan = _make_plan(event, app_settings.FANOUT_CHUNK_SIZE)
        if len(plan) == 1:
            # A listed audience of one chunk plans the same every time, so no attempt's plan needs
            # guarding: it is stored with the chunk's own "done" update (one statement fewer per event).
            if event.status == Event.Status.QUEUED and routing.coalesced(event):
                # A drain may take this event too (a task enqueued before drains existed, or the re-drive's):
                # whoever moves it out of "queued" first fans it out, the other leaves it.
                if not Event.objects.filter(pk=event.pk, status=Event.Status.QUEUED).update(
                    status=Event.Status.FANNING_OUT, updated_at=timezone.now()
                ):
                    return event
            event.plan, event.chunks_total = plan, 1
            _run_chunk(event=event, index=0)
            return event
    if fresh:
        plan = _make_plan(event, app_settings.FANOUT_CHUNK_SIZE)
        now = timezone.now()
        fresh = bool(
            Event.objects.filter(pk=event.pk, plan__isnull=True).update(
                plan=plan, chunks_total=len(plan), status=Event.Status.FANNING_OUT, updated_at=now
            )
        )
        if fresh:
            event.plan, event.chunks_total, event.updated_at = plan, len(plan), now
            event.status = Event.Status.FANNING_OUT
        else:  # another attempt planned it first: its plan stands
            event.refresh_from_db()
    else:
        Event.objects.filter(pk=event.pk).update(status=Event.Status.FANNING_OUT, updated_at=timezone.now())
    if event.chunks_total == 1:
        # The interactive path: a plan made just now has no chunk done, so there is nothing to look up.
        if fresh or not EventChunk.objects.filter(event=event, index=0).exists():
            _run_chunk(event=event, index=0)
            return event
    if event.chunks_total <= 1:
        return _finish_if_complete(event_id=event.pk)
    done = set() if fresh else set(EventChunk.objects.filter(event=event).values_list("index", flat=True))
    pending = [index for index in range(event.chunks_total) if index not in done]
    for index in pending:
        jobs.enqueue(jobs.FAN_OUT_CHUNK, event.pk, index, queue=app_settings.BULK_QUEUE)
    logger.info("fan-out planned event_id=%s chunks=%s enqueued=%s", event.pk, event.chunks_total, len(pending))
    return _finish_if_complete(event_id=event.pk)


def fan_out_chunk(*, event_id: int, index: int) -> None:
    """One chunk of a planned event (the bulk queue's task); a chunk done already is skipped."""
    event = Event.objects.select_related("actor").get(pk=event_id)
    if EventChunk.objects.filter(event=event, index=index).exists():
        return
    _run_chunk(event=event, index=index)


def _run_chunk(*, event: Event, index: int) -> None:
    """Rows, sessions and the chunk's record in one transaction; the publish after commit.

    A one-chunk event is marked done in that same transaction: the chunk is the event.
    """
    started = time.perf_counter()
    user_ids = _chunk_user_ids(event, event.plan[index])
    try:
        with transaction.atomic():
            stored, unread = rows.persist(event=event, user_ids=user_ids)
            rooms_by_user = sessions.live_session_rooms(user_ids=user_ids)
            messages = rows.live_messages(event=event, rows=unread, rooms_by_user=rooms_by_user)
            reached = sum(len(rooms) for rooms, _ in messages)
            EventChunk.objects.create(event=event, index=index, recipients=len(user_ids), rows=stored, sessions=reached)
            if event.chunks_total == 1:
                now = timezone.now()
                finished = {
                    "plan": event.plan,
                    "chunks_total": 1,
                    "status": Event.Status.DONE,
                    "completed_at": now,
                    "updated_at": now,
                    "recipients_count": len(user_ids),
                    "rows_persisted": stored,
                    "sessions_published": reached,
                }
                Event.objects.filter(pk=event.pk).exclude(status=Event.Status.DONE).update(**finished)
                for name, value in finished.items():
                    setattr(event, name, value)
            transaction.on_commit(
                lambda: publish.publish_fanned_out(messages=messages, event_ids=[event.pk], chunk=index)
            )
            push_audience.enqueue_on_commit(event=event, rows=unread, rooms_by_user=rooms_by_user)
    except IntegrityError:
        # Another attempt committed this chunk first: its rows and counts stand.
        logger.info("fan-out chunk already done event_id=%s chunk=%s", event.pk, index)
        event.refresh_from_db()
        return
    except Exception:
        Event.objects.filter(pk=event.pk).exclude(status=Event.Status.DONE).update(
            status=Event.Status.FAILED, updated_at=timezone.now()
        )
        logger.exception("fan-out chunk failed event_id=%s chunk=%s", event.pk, index)
        raise
    logger.info(
        "fan-out chunk done event_id=%s chunk=%s recipients=%s rows=%s sessions=%s duration_ms=%d",
        event.pk,
        index,
        len(user_ids),
        stored,
        reached,
        (time.perf_counter() - started) * 1000,
    )
    if event.chunks_total == 1:
        logger.info(
            "fan-out done event_id=%s recipients=%s rows=%s sessions=%s", event.pk, len(user_ids), stored, reached
        )
    else:
        _finish_if_complete(event_id=event.pk)


def _finish_if_complete(*, event_id: int) -> Event:
    """Adds up the committed chunks; the last one to commit marks the event done."""
    totals = EventChunk.objects.filter(event_id=event_id).aggregate(
        chunks=Count("id"), recipients=Sum("recipients"), rows=Sum("rows"), sessions=Sum("sessions")
    )
    event = Event.objects.get(pk=event_id)
    changes = {
        "recipients_count": totals["recipients"] or 0,
        "rows_persisted": totals["rows"] or 0,
        "sessions_published": totals["sessions"] or 0,
        "updated_at": timezone.now(),
    }
    if totals["chunks"] >= event.chunks_total:
        changes.update(status=Event.Status.DONE, completed_at=timezone.now())
    updated = Event.objects.filter(pk=event_id).exclude(status=Event.Status.DONE).update(**changes)
    event.refresh_from_db()
    if updated and changes.get("status") == Event.Status.DONE:
        logger.info(
            "fan-out done event_id=%s recipients=%s rows=%s sessions=%s",
            event_id,
            event.recipients_count,
            event.rows_persisted,
            event.sessions_published,
        )
    return event

"""The re-drive: events recorded but not done are enqueued again (Celery beat's herald.redrive, every minute)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from herald_live.delivery import routing
from herald_live.models import Event

logger = logging.getLogger(__name__)


def redrive_stalled_events(*, older_than_seconds: int) -> list[int]:
    """Enqueues again the events recorded but not done, untouched for a while.

    Their task was lost (enqueue failed, broker lost its data) or their worker died. A
    run that overlaps a live one costs time, not correctness: chunks commit once, rows are
    unique, and clients deduplicate by id.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stalled = Event.objects.filter(
        status__in=[Event.Status.QUEUED, Event.Status.FANNING_OUT, Event.Status.FAILED], updated_at__lt=cutoff
    )
    events = list(stalled.order_by("pk").only("pk", "audience", "recipient_ids", "status")[:1000])
    drained = False
    for event in events:
        # Touch first, so that the next sweep leaves it alone while this attempt runs.
        Event.objects.filter(pk=event.pk).update(updated_at=timezone.now())
        if event.status == Event.Status.QUEUED and routing.coalesced(event):
            # Still queued: a drain takes it (a task of its own could run beside a drain, on the same event).
            drained = drained or routing.enqueue_fan_out(event=event)
        else:
            routing.enqueue_fan_out(event=event, coalesce=False)
    if events:
        logger.info("re-drive enqueued events=%s", len(events))
    return [event.pk for event in events]

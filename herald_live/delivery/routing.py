"""Where an event's fan-out runs: the drain of queued one-user events, or a task of its own on a queue.

The one door from a request into the delivery layer: a recorded event is handed here after commit
(actions/sending.py), and so are the events the re-drive finds (redrive.py).
"""

from __future__ import annotations

import logging

from kombu.exceptions import OperationalError as BrokerError
from redis import RedisError

from herald_live.conf import app_settings
from herald_live.delivery import drain_mark
from herald_live.infra import health, jobs
from herald_live.models import Event

logger = logging.getLogger(__name__)


def queue_for(event: Event) -> str:
    """Few recipients: the interactive queue. Everyone or a long list: the bulk queue."""
    few = event.audience == Event.Audience.USER or (
        event.audience == Event.Audience.USERS
        and len(event.recipient_ids or []) <= app_settings.INTERACTIVE_MAX_RECIPIENTS
    )
    return app_settings.INTERACTIVE_QUEUE if few else app_settings.BULK_QUEUE


def coalesced(event: Event) -> bool:
    """Whether the event is fanned out by a drain: one user, or a list short enough for one chunk."""
    if event.audience == Event.Audience.USER:
        return True
    return event.audience == Event.Audience.USERS and len(event.recipient_ids or []) <= max_listed()


def max_listed() -> int:
    """The longest list of recipients a drain takes: it fans each event out as one chunk."""
    return min(app_settings.INTERACTIVE_MAX_RECIPIENTS, app_settings.FANOUT_CHUNK_SIZE)


def enqueue_fan_out(*, event: Event, coalesce: bool = True) -> bool:
    """Asks a worker for the event's fan-out; False (logged) when the queue did not take it.

    An event for one user or a few joins the queued ones that the next drain fans out together
    (herald_live/delivery/drain.py); the re-drive passes ``coalesce=False`` for the events a drain
    leaves alone: failed ones, and those stuck part-way.
    """
    try:
        if coalesce and coalesced(event):
            drain_mark.schedule_pending_fan_out()
        else:
            jobs.enqueue(jobs.FAN_OUT, event.pk, queue=queue_for(event))
    except (BrokerError, RedisError):
        health.forget_broker_answer()
        logger.warning("enqueue failed event_id=%s; the re-drive will enqueue it", event.pk)
        return False
    return True

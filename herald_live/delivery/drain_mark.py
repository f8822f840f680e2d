"""The "drain scheduled" mark in the broker's Redis: at most one drain of queued one-user events at a time.

A send to one user or a few (routing.coalesced) enqueues no task of its own: it puts the mark up, and only
the send that put it up enqueues a drain (``schedule_pending_fan_out``). The drain holds the mark while it
finds work and takes it down before its last look (drain.py says how no event waits for the re-drive).
"""

from __future__ import annotations

from contextlib import suppress

import redis
from kombu.exceptions import OperationalError as BrokerError
from redis import RedisError

from herald_live.conf import app_settings
from herald_live.infra import health, jobs

# How long a "drain scheduled" mark outlives a drain task that never ran (schedule_pending_fan_out).
PENDING_MARK_SECONDS = 10
# How long the mark of a running drain outlives it, should its worker die (the drain renews it every second).
HELD_MARK_SECONDS = 3


def pending_mark() -> tuple[redis.Redis | None, str]:
    """The broker's Redis (None for another broker: no mark, every send enqueues a drain) and the mark's key."""
    return health.broker_client(), f"{app_settings.CHANNEL_PREFIX}:fan-out-pending-scheduled"


def schedule_pending_fan_out(*, countdown: float | None = None, hand_over: bool = False) -> None:
    """Enqueues a drain of the queued one-user events, unless the mark says one is queued or running.

    A running drain keeps the mark up while it finds work and takes it down before its last look
    (``delivery.drain.drain``), so an event committed before this call is seen either by the drain
    that holds the mark or by the one this call enqueues: none waits for the re-drive. The mark
    expires in case its task is lost (a broker that lost its data); a spare drain then costs one
    empty query. ``hand_over``: a drain that holds the mark enqueues its successor, which inherits it.
    """
    client, key = pending_mark()
    if client is not None:
        if hand_over:
            client.set(key, "1", ex=PENDING_MARK_SECONDS)
        elif not client.set(key, "1", nx=True, ex=PENDING_MARK_SECONDS):
            return
    try:
        jobs.enqueue(jobs.FAN_OUT_PENDING, queue=app_settings.INTERACTIVE_QUEUE, countdown=countdown)
    except (BrokerError, RedisError):
        if client is not None:
            with suppress(RedisError):
                client.delete(key)
        raise


def hold_pending_fan_out_mark(*, only_if_down: bool = False) -> bool:
    """A drain puts the mark up (again) for the time it runs: sends meanwhile count on it, enqueue nothing.

    Held for a few seconds at a time and renewed: a drain whose worker dies leaves the sends that counted
    on it for its redelivery, or for the first drain after the mark runs out. ``only_if_down``: False
    when a send put it up meanwhile (and enqueued the next drain).
    """
    client, key = pending_mark()
    if client is None:
        return True
    return bool(client.set(key, "1", nx=only_if_down, ex=HELD_MARK_SECONDS))


def take_pending_fan_out_mark() -> None:
    client, key = pending_mark()
    if client is not None:
        client.delete(key)

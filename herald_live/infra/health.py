"""What a send depends on, checked cheaply before anything is recorded."""

from __future__ import annotations

import time

import redis
from celery import current_app

from herald_live.infra import redis_clients


def broker_url() -> str:
    return str(current_app.conf.broker_url or "")


def broker_client() -> redis.Redis | None:
    """A client of the Celery broker when it is Redis (None for another broker)."""
    url = broker_url()
    return redis_clients.client(url, timeout=1) if url.startswith(("redis://", "rediss://", "unix://")) else None


def broker_reachable() -> bool:
    """True when the Celery broker answers; a broker other than Redis is not probed (True)."""
    client = broker_client()
    if client is None:
        return True
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


# When the broker last answered a send's probe (time.monotonic()), in this process.
_answered_at = 0.0
# A send trusts an answer this recent: the probe was a round trip in every send request (issue 13). A broker
# that dies within it costs what it would cost between the probe and the commit anyway: the event is
# recorded, its enqueue fails (and forgets the answer), and the re-drive enqueues it later.
ANSWER_TRUSTED_SECONDS = 1.0


def broker_answered_recently() -> bool:
    """``broker_reachable()`` for sends: probed at most once a second per process while it answers."""
    global _answered_at
    if time.monotonic() - _answered_at < ANSWER_TRUSTED_SECONDS:
        return True
    if broker_reachable():
        _answered_at = time.monotonic()
        return True
    return False


def forget_broker_answer() -> None:
    """An enqueue failed: the next send probes the broker again."""
    global _answered_at
    _answered_at = 0.0

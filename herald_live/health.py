"""What a send depends on, checked cheaply before anything is recorded."""

from __future__ import annotations

import functools

import redis
from celery import current_app


@functools.cache
def _broker(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def broker_url() -> str:
    return str(current_app.conf.broker_url or "")


def broker_client() -> redis.Redis | None:
    """A client of the Celery broker when it is Redis (None for another broker)."""
    url = broker_url()
    return _broker(url) if url.startswith(("redis://", "rediss://", "unix://")) else None


def broker_reachable() -> bool:
    """True when the Celery broker answers; a broker other than Redis is not probed (True)."""
    client = broker_client()
    if client is None:
        return True
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False

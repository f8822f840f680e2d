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


def broker_reachable() -> bool:
    """True when the Celery broker answers; a broker other than Redis is not probed (True)."""
    url = broker_url()
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return True
    try:
        return bool(_broker(url).ping())
    except redis.RedisError:
        return False

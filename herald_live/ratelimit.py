"""Fixed-window rate limits in Redis, shared by every web process."""

from __future__ import annotations

import functools
import time

import redis

from herald_live.conf import app_settings


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(app_settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)


def allow(*, scope: str, subject: str, limit: int, window_seconds: int) -> tuple[bool, int]:
    """Counts one hit; returns (allowed, seconds until the window ends).

    ``subject`` names who is limited (a user id, a service token's id), never a secret.
    """
    if limit <= 0:
        return True, 0
    now = time.time()
    window = int(now // window_seconds)
    key = f"{app_settings.CHANNEL_PREFIX}:ratelimit:{scope}:{subject}:{window}"
    pipe = _redis().pipeline()
    pipe.incr(key)
    pipe.expire(key, window_seconds + 1)
    count, _ = pipe.execute()
    retry_after = int((window + 1) * window_seconds - now) + 1
    return count <= limit, retry_after

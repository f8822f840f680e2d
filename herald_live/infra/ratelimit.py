"""Fixed-window counters in Redis, shared by every web process.

Herald's send limits count here (``allow``, through infra/http.py's ``rate_limited``), and so does the
reference site's login throttle (web/login.py), which counts one attempt in several windows at once and
gives back the ones that checked no password. A key names what is counted (``kind``, ``scope``), whom
(``subject``: an id or a digest, never a secret) and the window's number; it lives one window.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from herald_live.conf import app_settings
from herald_live.infra import redis_clients

# A limit is checked in the request: a Redis that does not answer must not hold it longer.
TIMEOUT_SECONDS = 1


def client() -> redis.Redis:
    return redis_clients.client(app_settings.REDIS_URL, timeout=TIMEOUT_SECONDS)


@dataclass(frozen=True)
class Window:
    number: int  # the window's number since the epoch, in windows of its size
    retry_after: int  # seconds until it ends, rounded up


def window(*, now: float, seconds: int) -> Window:
    number = int(now // seconds)
    return Window(number=number, retry_after=int((number + 1) * seconds - now) + 1)


def key(*, kind: str, scope: str, subject: str, window: int) -> str:
    return f"{app_settings.CHANNEL_PREFIX}:{kind}:{scope}:{subject}:{window}"


def count(*, keys: Sequence[str], window_seconds: int) -> list[int]:
    """Counts one hit on each key, in one round trip; returns each key's count, this hit included."""
    pipe = client().pipeline()
    for name in keys:
        pipe.incr(name)
        pipe.expire(name, window_seconds + 1)
    return pipe.execute()[::2]


def give_back(*, keys: Sequence[str], window_seconds: int) -> None:
    """Takes one hit back from each key (a hit that turned out not to count)."""
    if not keys:
        return
    pipe = client().pipeline()
    for name in keys:
        pipe.decr(name)
        # The window may have ended meanwhile: a key made anew by DECR must not outlive it.
        pipe.expire(name, window_seconds + 1)
    pipe.execute()


def allow(*, scope: str, subject: str, limit: int, window_seconds: int) -> tuple[bool, int]:
    """Counts one hit; returns (allowed, seconds until the window ends).

    ``subject`` names who is limited (a user id, a service token's id), never a secret.
    """
    if limit <= 0:
        return True, 0
    current = window(now=time.time(), seconds=window_seconds)
    (hits,) = count(
        keys=[key(kind="ratelimit", scope=scope, subject=subject, window=current.number)],
        window_seconds=window_seconds,
    )
    return hits <= limit, current.retry_after

"""One Redis client factory for the Django side (web and workers); the pusher has its own (pusher/redis_clients.py).

Clients are shared per (URL, timeout) in each process: redis-py pools their connections, so building one per
call would open a connection per call.
"""

from __future__ import annotations

import functools

import redis


@functools.lru_cache(maxsize=16)
def client(url: str, *, timeout: float) -> redis.Redis:
    """A client of the Redis at ``url`` whose connects and commands give up after ``timeout`` seconds.

    The caller picks the timeout: a Redis that does not answer must not hold a request, a login or a fan-out
    chunk's transaction longer than that caller can afford.
    """
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)

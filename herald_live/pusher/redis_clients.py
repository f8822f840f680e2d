"""The pusher's Redis clients, in one place (it never imports Django: not herald_live/infra/redis_clients.py).

The message queue's own subscription is python-socketio's (queue.py); these serve /healthz and presence.
"""

from __future__ import annotations

import redis


def client(url: str, *, timeout: float, connect_timeout: float = 1) -> redis.Redis:
    """A client whose commands give up after ``timeout`` seconds: an outage delays the pusher's tasks, never stops
    them."""
    return redis.Redis.from_url(url, socket_connect_timeout=connect_timeout, socket_timeout=timeout)

"""Fixtures of the in-process tests of herald_live."""

from __future__ import annotations

import json
import time

import pytest
import redis
from django.conf import settings

from herald_live import wire


@pytest.fixture
def channel(redis_client):
    """Everything published on this run's socket.io channel, as parsed JSON."""
    pubsub = redis.Redis.from_url(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(wire.socketio_channel(settings.HERALD_CHANNEL_PREFIX))
    raw: list[bytes] = []

    def drain() -> list[dict]:
        # get_message() also returns None for the subscribe confirmation it swallows.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            if message := pubsub.get_message(timeout=0.1):
                raw.append(message["data"])
        return [json.loads(item) for item in raw]

    drain.raw = raw
    yield drain
    pubsub.close()

"""Celery messages as they sit in the test broker (Redis), read back without a worker."""

from __future__ import annotations

import base64
import json
import os


def queue_key(queue: str) -> str:
    """The Redis list of a broker queue of this test run (its key prefix keeps runs apart)."""
    return f"{os.environ['HERALD_BROKER_KEY_PREFIX']}{queue}"


def messages(redis_client, queue: str) -> list[dict]:
    """The queue's messages, oldest first: their headers (task, eta, ...), args, kwargs and content type."""
    found = []
    for raw in reversed(redis_client.lrange(queue_key(queue), 0, -1)):
        message = json.loads(raw)
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        found.append({**message["headers"], "args": args, "kwargs": kwargs, "content_type": message["content-type"]})
    return found

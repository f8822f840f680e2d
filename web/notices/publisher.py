"""Publishes to the pushers through the socket.io Redis message queue (write-only).

Only workers publish: requests enqueue tasks instead. The manager is created lazily so
that importing this module opens no connection.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import socketio
from django.conf import settings

import wire

_lock = threading.Lock()
_manager: socketio.RedisManager | None = None


def _queue() -> socketio.RedisManager:
    global _manager
    with _lock:
        if _manager is None:
            # Write-only: a worker never listens, and passing async_mode is moot without a server.
            _manager = socketio.RedisManager(
                settings.REDIS_URL,
                channel=wire.socketio_channel(settings.HERALD_CHANNEL_PREFIX),
                write_only=True,
            )
        return _manager


def emit_to_rooms(*, rooms: list[str], payload: dict[str, Any]) -> None:
    """One Redis publish, whatever the number of rooms: python-socketio accepts a list."""
    if rooms:
        _queue().emit(wire.SOCKET_EVENT, wire.stamped(payload), namespace=wire.NAMESPACE, room=rooms)


def emit_batch(*, messages: list[tuple[list[str], dict[str, Any]]]) -> None:
    """Every (rooms, envelope) of a chunk in one Redis message, whatever its size."""
    if messages:
        now = time.time()
        items = [[rooms, wire.stamped(envelope, now=now)] for rooms, envelope in messages]
        _queue().emit(wire.BATCH_EVENT, {"items": items}, namespace=wire.NAMESPACE, room=wire.BATCH_ROOM)


def drop_rooms(*, rooms: list[str]) -> None:
    """Asks every pusher to disconnect the sockets in these rooms (see pusher/queue.py)."""
    for room in rooms:
        _queue().close_room(room, namespace=wire.NAMESPACE)

"""Publishes to the pushers through the socket.io Redis message queue (write-only).

Only workers publish: requests enqueue tasks instead. The manager is created lazily so
that importing this module opens no connection.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import socketio
from redis.exceptions import RedisError

from herald_live import wire
from herald_live.conf import app_settings

_lock = threading.Lock()
_manager: socketio.RedisManager | None = None


class PublishFailed(RuntimeError):
    """Redis did not take a message for the pushers; nobody received it."""


class JsonRedisManager(socketio.RedisManager):
    """python-socketio's Redis manager, minus its search of the payload for bytes.

    ``emit`` walks every value of a payload looking for bytes to send as attachments; for a
    chunk's batch (a thousand envelopes) that walk cost a fifth of the chunk. Envelopes are
    JSON by contract (wire.py), so the message is published as the library would publish a
    payload without bytes (tests/herald_live/test_publisher.py holds the two side by side).
    A write-only manager has no local sockets, so there is nothing to handle in this host.
    """

    def emit(self, event, data, namespace=None, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        if callback is not None or kwargs.get("ignore_queue"):
            raise ValueError("the publisher sends plain emits only")
        message = {
            "method": "emit",
            "event": event,
            "data": list(data) if isinstance(data, tuple) else [data],
            "binary": False,
            "namespace": namespace or "/",
            "room": to or room,
            "skip_sid": skip_sid,
            "callback": None,
            "host_id": self.host_id,
        }
        self._publish(message)

    def _publish(self, data):
        """python-socketio's publish logs "giving up" and returns: a caller would count the message as
        sent. Here a message Redis did not take raises, so that the caller can make up for it."""
        payload = self.json.dumps(data)
        error: Exception | None = None
        for _attempt in range(2):  # the second on a new connection, as python-socketio does
            try:
                if not self.connected:
                    self._redis_connect()
                return self.redis.publish(self.channel, payload)
            except (RedisError, OSError) as exc:
                self.connected = False
                error = exc
        raise PublishFailed(f"Redis did not take the message: {type(error).__name__}") from error


def _queue() -> socketio.RedisManager:
    global _manager
    with _lock:
        if _manager is None:
            # Write-only: a worker never listens, and passing async_mode is moot without a server.
            _manager = JsonRedisManager(
                app_settings.REDIS_URL,
                channel=wire.socketio_channel(app_settings.CHANNEL_PREFIX),
                write_only=True,
                # A dead Redis must fail a publish quickly rather than hold the worker.
                redis_options={"socket_connect_timeout": 2, "socket_timeout": 5},
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

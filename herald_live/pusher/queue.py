"""The pusher's one Redis subscription: Flask-SocketIO's message queue, plus session drops."""

from __future__ import annotations

import time

import socketio
from socketio.manager import Manager

from herald_live import wire
from herald_live.pusher import metrics
from herald_live.pusher.ended import EndedSessions


class SessionDroppingRedisManager(socketio.RedisManager):
    """Treats ``close_room`` from a worker as "drop this session": its sockets are disconnected.

    A plain close_room only takes sockets out of the room; a logged-out or revoked session
    must lose its connection too, so that it cannot linger on a stale handshake. The room is
    remembered as ended, so that a token signed before the drop cannot open a new socket.
    """

    def __init__(self, url: str, *, channel: str, ended: EndedSessions) -> None:
        super().__init__(url, channel=channel)
        self.ended = ended

    def _handle_close_room(self, message):
        namespace = message.get("namespace") or "/"
        room = message.get("room")
        if isinstance(room, str):
            self.ended.add(room)
            for sid, _eio_sid in list(self.get_participants(namespace, room)):
                self.server.disconnect(sid, namespace=namespace, ignore_queue=True)
                metrics.DROPS.inc()
        super()._handle_close_room(message)

    def _handle_emit(self, message):
        if message.get("event") == wire.BATCH_EVENT:
            self._handle_batch(message)
            return
        super()._handle_emit(message)
        metrics.EVENTS.inc()
        rooms = message.get("room")
        in_namespace = self.rooms.get(message.get("namespace") or "/", {})
        for room in rooms if isinstance(rooms, list) else [rooms]:
            metrics.DELIVERIES.inc(len(in_namespace.get(room, ())))
        data = message.get("data")
        sent_at = data[0].get("sent_at") if isinstance(data, list) and data and isinstance(data[0], dict) else None
        if isinstance(sent_at, int | float):
            metrics.LATENCY.observe(max(0.0, time.time() - sent_at))

    def _handle_batch(self, message):
        """Unpacks a fan-out chunk: each item is emitted to its rooms on this server only."""
        data = message.get("data")
        batch = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        namespace = message.get("namespace") or wire.NAMESPACE
        in_namespace = self.rooms.get(namespace, {})
        now = time.time()
        for item in batch.get("items") or []:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], list)):
                continue
            rooms, envelope = item
            present = [room for room in rooms if room in in_namespace]
            if not present:
                continue  # most rooms of a big fan-out live on other pushers
            # Manager.emit delivers locally; PubSubManager.emit would publish again.
            Manager.emit(self, wire.SOCKET_EVENT, envelope, namespace=namespace, room=present)
            metrics.DELIVERIES.inc(sum(len(in_namespace[room]) for room in present))
            sent_at = envelope.get("sent_at") if isinstance(envelope, dict) else None
            if isinstance(sent_at, int | float):
                metrics.LATENCY.observe(max(0.0, now - sent_at))
        metrics.EVENTS.inc()

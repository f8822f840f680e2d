"""The pusher's one Redis subscription: Flask-SocketIO's message queue, plus session drops."""

from __future__ import annotations

import socketio


class SessionDroppingRedisManager(socketio.RedisManager):
    """Treats ``close_room`` from a worker as "drop this session": its sockets are disconnected.

    A plain close_room only takes sockets out of the room; a logged-out or revoked session
    must lose its connection too, so that it cannot linger on a stale handshake.
    """

    def _handle_close_room(self, message):
        namespace = message.get("namespace") or "/"
        room = message.get("room")
        if isinstance(room, str):
            for sid, _eio_sid in list(self.get_participants(namespace, room)):
                self.server.disconnect(sid, namespace=namespace, ignore_queue=True)
        super()._handle_close_room(message)

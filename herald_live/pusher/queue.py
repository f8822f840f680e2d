"""The pusher's one Redis subscription: Flask-SocketIO's message queue, plus session drops."""

from __future__ import annotations

import contextlib
import logging
import socket
import time

import socketio
from redis.exceptions import RedisError
from socketio.manager import Manager

from herald_live import wire
from herald_live.pusher import metrics
from herald_live.pusher.ended import EndedSessions
from herald_live.pusher.fanout import Fanout

logger = logging.getLogger("herald.pusher")

# How long the subscription waits between attempts while Redis does not answer. python-socketio
# doubles its wait up to 60 s, and every message published meanwhile is lost to this pusher's
# sockets; a refused connection costs nothing, so it tries again soon, and is back within about
# this long of Redis answering.
RESUBSCRIBE_EVERY_SECONDS = 0.5


class SessionDroppingRedisManager(socketio.RedisManager):
    """Treats ``close_room`` from a worker as "drop this session": its sockets are disconnected.

    A plain close_room only takes sockets out of the room; a logged-out or revoked session
    must lose its connection too, so that it cannot linger on a stale handshake. The room is
    remembered as ended, so that a token signed before the drop cannot open a new socket.
    """

    def __init__(self, url: str, *, channel: str, ended: EndedSessions) -> None:
        # A Redis host that vanishes without a reset (a crash, a failover, a dropped NAT entry) must end the
        # subscription's blocking read, so that it is retried and /healthz tells the truth; a connect to an
        # address that drops packets must not wait for the OS's two minutes.
        keepalive = {
            option: value
            for option, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))
            if hasattr(socket, option)
        }
        super().__init__(
            url,
            channel=channel,
            redis_options={
                "socket_connect_timeout": 2,
                "socket_keepalive": True,
                "socket_keepalive_options": {getattr(socket, option): value for option, value in keepalive.items()},
            },
        )
        self.ended = ended
        # True only while the subscription is up: python-socketio's ``connected`` stays true
        # through an outage, so /healthz reads this instead.
        self.subscribed = False

    def _redis_listen_with_retries(self):
        """The subscription, kept up; after any gap every socket here is told to refetch.

        Redis pub/sub keeps nothing for an absent subscriber: whatever was published while this
        pusher was not subscribed never reaches its sockets, and they, still connected, would
        never know. So once subscribed again it sends every socket ``notifications.changed``,
        and each client refetches its whole state from the database (docs/wire.md).
        """
        had_gap = False
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)  # raises while Redis does not answer
                self.subscribed = True
                metrics.SUBSCRIBED.set(1)
                if had_gap:
                    self._tell_every_socket_to_resync()
                yield from self.pubsub.listen()
            except (RedisError, OSError) as exc:  # the subscription broke: this loop is its retry
                if self.subscribed or not had_gap:
                    logger.warning("redis subscription lost: %s; resubscribing", type(exc).__name__)
                self.subscribed = False
                self.connected = False
                metrics.SUBSCRIBED.set(0)
                had_gap = True
                self._close_pubsub()
                time.sleep(RESUBSCRIBE_EVERY_SECONDS)

    def _close_pubsub(self) -> None:
        # A dead connection may fail to close; it is dropped either way.
        with contextlib.suppress(RedisError, OSError):
            if self.pubsub is not None:
                self.pubsub.close()

    def _tell_every_socket_to_resync(self) -> None:
        # Manager.emit delivers to this server's sockets only; no room: every socket of the namespace.
        Manager.emit(self, wire.SOCKET_EVENT, wire.notifications_changed(), namespace=wire.NAMESPACE)
        metrics.RESYNCS.inc()
        logger.info("redis subscription restored; every socket told to resync")

    def _handle_close_room(self, message):
        namespace = message.get("namespace") or "/"
        room = message.get("room")
        if isinstance(room, str):
            self.ended.add(room)
            for sid, _eio_sid in list(self.get_participants(namespace, room)):
                self.server.disconnect(sid, namespace=namespace, ignore_queue=True)
                metrics.DROPS.inc()
        super()._handle_close_room(message)

    def initialize(self):
        super().initialize()
        # Before the first socket connects (python-socketio initializes the manager then at the latest).
        self.fanout = Fanout(self.server)

    def _handle_emit(self, message):
        if message.get("event") == wire.BATCH_EVENT:
            self._handle_batch(message)
            return
        metrics.EVENTS.inc()
        data = message.get("data")
        envelope = data[0] if isinstance(data, list) and len(data) == 1 else None
        rooms = message.get("room")
        rooms = rooms if isinstance(rooms, list) else [rooms]
        fanout = getattr(self, "fanout", None)
        if (
            fanout is None
            or message.get("binary")
            or message.get("callback") is not None
            or message.get("skip_sid")
            or not isinstance(envelope, dict)
            or not all(isinstance(room, str) for room in rooms)
        ):
            # Anything but a plain JSON event to named rooms: python-socketio's own path.
            super()._handle_emit(message)
            in_namespace = self.rooms.get(message.get("namespace") or "/", {})
            for room in rooms:
                metrics.DELIVERIES.inc(len(in_namespace.get(room, ())))
        else:
            namespace = message.get("namespace") or "/"
            in_namespace = self.rooms.get(namespace, {})
            present = [room for room in rooms if room in in_namespace]
            if present:
                self._deliver(fanout, message.get("event"), envelope, namespace, present, now=time.time())
        sent_at = envelope.get("sent_at") if isinstance(envelope, dict) else None
        if isinstance(sent_at, int | float):
            metrics.LATENCY.observe(max(0.0, time.time() - sent_at))

    def _handle_batch(self, message):
        """Unpacks a fan-out chunk: each item is delivered to its rooms on this server only."""
        data = message.get("data")
        batch = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        namespace = message.get("namespace") or wire.NAMESPACE
        in_namespace = self.rooms.get(namespace, {})
        fanout = getattr(self, "fanout", None)
        now = time.time()
        for item in batch.get("items") or []:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], list)):
                continue
            rooms, envelope = item
            present = [room for room in rooms if isinstance(room, str) and room in in_namespace]
            if not present:
                continue  # most rooms of a big fan-out live on other pushers
            if fanout is None:
                # Manager.emit delivers locally; PubSubManager.emit would publish again.
                Manager.emit(self, wire.SOCKET_EVENT, envelope, namespace=namespace, room=present)
                metrics.DELIVERIES.inc(sum(len(in_namespace[room]) for room in present))
            else:
                self._deliver(fanout, wire.SOCKET_EVENT, envelope, namespace, present, now=now)
            sent_at = envelope.get("sent_at") if isinstance(envelope, dict) else None
            if isinstance(sent_at, int | float):
                metrics.LATENCY.observe(max(0.0, now - sent_at))
        metrics.EVENTS.inc()

    def _deliver(self, fanout: Fanout, event, envelope, namespace: str, rooms: list[str], *, now: float) -> None:
        """One event to the sockets of these rooms (present here), each once, encoded once for all of them."""
        encoded = fanout.encode(event, envelope, namespace)
        in_namespace = self.rooms[namespace]
        if encoded is None:  # binary after all: the library's path
            Manager.emit(self, event, envelope, namespace=namespace, room=rooms)
            metrics.DELIVERIES.inc(sum(len(in_namespace[room]) for room in rooms))
            return
        # A copy, as get_participants takes one: sockets may join or leave while the delivery yields.
        if len(rooms) == 1:
            eio_sids = list(in_namespace[rooms[0]].values())
        else:
            eio_sids = list({eio_sid: None for room in rooms for eio_sid in in_namespace[room].values()})
        metrics.DELIVERIES.inc(fanout.send(eio_sids, *encoded, now=now))

"""Engine.IO's heartbeat from one task per process instead of one sleeping green thread per socket.

python-engineio pings each socket from a green thread of its own that sleeps the ping interval (25 s)
holding the socket. A socket that closes stays in memory, with its queue, events and timer, until that
sleep ends: under churn a pusher held 25 s of closed sockets (4,000 Socket objects after two rounds of
2,000), and each live socket paid for a green thread. Here one task walks a queue of
(due, weak reference) pairs: a closed socket is freed as soon as nothing else holds it.
"""

from __future__ import annotations

import functools
import logging
import time
import weakref
from collections import deque
from collections.abc import Callable

from engineio import packet

logger = logging.getLogger("herald.pusher")

# The queue is in due order (one interval for every socket): the task wakes this often at most.
TICK_SECONDS = 0.25


class PingScheduler:
    def __init__(
        self, *, interval: float, sleep: Callable[[float], None], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self.sleep = sleep
        self.clock = clock
        self._due: deque[tuple[float, weakref.ref]] = deque()
        self._dead = 0  # entries whose socket is gone: dropped in one pass once they are half the queue

    def install(self, server) -> None:
        """Gives every Engine.IO socket of ``server`` (a socketio.Server) to this scheduler, and starts it."""
        eio = server.eio
        previous = eio.handlers["connect"]

        def on_connect(eio_sid, wsgi_env):
            result = previous(eio_sid, wsgi_env)
            sock = eio.sockets.get(eio_sid)
            if sock is not None and result is not False:
                # A weak reference: the socket must not keep itself alive through its own attribute.
                sock.schedule_ping = functools.partial(schedule_ping_after_pong, self, weakref.ref(sock))
            return result

        eio.on("connect", on_connect)
        server.start_background_task(self.run)

    def schedule(self, sock) -> None:
        self._due.append((self.clock() + self.interval, weakref.ref(sock, self._gone)))

    def _gone(self, _ref: weakref.ref) -> None:
        self._dead += 1

    def run(self, *, rounds: int | None = None) -> None:
        done = 0
        while rounds is None or done < rounds:
            self.ping_due(now=self.clock())
            self.sleep(TICK_SECONDS)
            done += 1

    def ping_due(self, *, now: float) -> int:
        if self._dead > 64 and self._dead * 2 > len(self._due):
            # Memory follows the sockets connected, not the ones that left in the last interval.
            self._due = deque(entry for entry in self._due if entry[1]() is not None)
            self._dead = 0
        pinged = 0
        while self._due and self._due[0][0] <= now:
            _due, ref = self._due.popleft()
            sock = ref()
            if sock is None or sock.closing or sock.closed:
                continue
            # What engineio's own per-socket task does when its sleep ends.
            sock.last_ping = time.time()
            try:
                sock.send(packet.Packet(packet.PING))
            except Exception as exc:  # noqa: BLE001 - one socket's failure must not stop everyone's heartbeat
                logger.debug("ping failed: %s", type(exc).__name__)
            pinged += 1
        return pinged

    def __len__(self) -> int:
        return len(self._due)


def schedule_ping_after_pong(scheduler: PingScheduler, ref: weakref.ref) -> None:
    """engineio's Socket.schedule_ping: only once the previous ping was answered."""
    sock = ref()
    if sock is not None and sock.last_ping:
        sock.last_ping = None
        scheduler.schedule(sock)

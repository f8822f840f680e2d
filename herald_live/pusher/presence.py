"""The sessions this pusher has a live socket for, kept in Redis so that workers push only to users away.

One sorted set per deployment (``wire.presence_key``): member a session digest, score until when it counts
(Unix seconds). Sockets only mark their session here on connect and disconnect (a set add, no I/O); one
task writes what changed every TICK_SECONDS in one pipeline, and every third of the lifetime renews every
session this pusher holds and trims what expired, so the entries of a pusher that died go within the
lifetime. Best effort: Redis not answering costs a warning per period, never a socket, and the next write
after it answers again is a full renewal. A session missing from the set only costs its user an extra push.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

import redis

from herald_live import wire
from herald_live.pusher import metrics, redis_clients

logger = logging.getLogger("herald.pusher")

# How often what changed is written: a page that just connected may get a push for this long.
TICK_SECONDS = 0.25
# Members per ZADD: thousands of sessions are renewed in one pipeline of commands of this size.
ZADD_BATCH = 1000
# Sessions that left while Redis did not answer, remembered to be removed once it does; past this many,
# the rest are left to expire.
MAX_PENDING_REMOVALS = 10_000


class Presence:
    def __init__(
        self,
        client: redis.Redis,
        *,
        key: str,
        seconds: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.key = key
        self.seconds = seconds
        self.renew_every = seconds / 3
        self.clock = clock
        self.monotonic = monotonic
        self._sockets: dict[str, int] = {}  # session digest -> its sockets here
        self._session_of: dict[str, str] = {}  # socket id -> session digest
        self._dirty: set[str] = set()  # sessions whose first socket came or last socket left since the last write
        self._renew = True  # the next write renews everything (at start, and after a failure)
        self._next_renewal = 0.0
        self._warned_at = -math.inf
        self._failing = False
        self._lock = threading.Lock()  # green under the pusher's monkey-patching: one write at a time
        metrics.PRESENCE_SESSIONS.set_function(lambda: len(self._sockets))

    def joined(self, *, sid: str, session: str) -> None:
        self._session_of[sid] = session
        count = self._sockets.get(session, 0)
        self._sockets[session] = count + 1
        if not count:
            self._dirty.add(session)

    def left(self, sid: str) -> None:
        session = self._session_of.pop(sid, None)
        if session is None:
            return
        count = self._sockets[session] - 1
        if count:
            self._sockets[session] = count
        else:
            del self._sockets[session]
            self._dirty.add(session)

    def run(self, *, sleep: Callable[[float], None], rounds: int | None = None) -> None:
        """The background task: forever, every TICK_SECONDS, writes what changed (or renews everything)."""
        done = 0
        while rounds is None or done < rounds:
            try:
                self.write()
            except Exception:  # noqa: BLE001 - one bad write must not end presence: its users would get every push
                logger.exception("presence write failed")
            sleep(TICK_SECONDS)
            done += 1

    def write(self) -> bool:
        """One pipeline: adds and removes what changed; renews and trims when due. False if Redis failed."""
        with self._lock:
            if self.monotonic() >= self._next_renewal:
                self._renew = True
            renew = self._renew
            dirty, self._dirty = self._dirty, set()
            removed = [session for session in dirty if session not in self._sockets]
            added = list(self._sockets) if renew else [session for session in dirty if session in self._sockets]
            if not (renew or added or removed):
                return True
            now = self.clock()
            pipe = self.client.pipeline(transaction=False)
            for start in range(0, len(added), ZADD_BATCH):
                # GT: a session with sockets on two pushers keeps the later of their deadlines.
                pipe.zadd(self.key, dict.fromkeys(added[start : start + ZADD_BATCH], now + self.seconds), gt=True)
            if removed:
                pipe.zrem(self.key, *removed)
            if renew:
                pipe.zremrangebyscore(self.key, "-inf", now)
                pipe.expire(self.key, math.ceil(self.seconds))  # a deployment without pushers leaves no key
            try:
                pipe.execute()
            except (redis.RedisError, OSError) as exc:
                self._failed(exc, removed=removed)
                return False
            if renew:
                self._renew = False
                self._next_renewal = self.monotonic() + self.renew_every
            if self._failing:
                self._failing = False
                logger.info("presence written again sessions=%s", len(self._sockets))
            return True

    def _failed(self, exc: Exception, *, removed: list[str]) -> None:
        self._renew = True  # whatever was lost is written again with everything else
        room = MAX_PENDING_REMOVALS - len(self._dirty)
        self._dirty.update(session for session in removed[: max(room, 0)] if session not in self._sockets)
        self._failing = True
        metrics.PRESENCE_FAILURES.inc()
        now = self.monotonic()
        if now - self._warned_at >= self.renew_every:
            self._warned_at = now
            logger.warning(
                "presence not written: %s; users of this pusher's sessions may get web pushes meanwhile",
                type(exc).__name__,
            )


def client(url: str) -> redis.Redis:
    """The pusher's Redis (its message queue's): short timeouts, so that an outage only delays the task."""
    return redis_clients.client(url, timeout=2)


def for_prefix(url: str, *, prefix: str, seconds: float) -> Presence:
    return Presence(client(url), key=wire.presence_key(prefix), seconds=seconds)

"""Sessions that ended (logout, revocation), remembered while a token signed before could still be shown.

A token is signed for a live session and lives HERALD_TOKEN_TTL_SECONDS. Should the session end
in that time, the drop closes the sockets it has, but the token could still open a new one: a
socket on a dead session, receiving nothing, that its page would take for live. Every pusher
hears every drop, so each one refuses such tokens until they have expired anyway.
"""

from __future__ import annotations

import time
from collections import deque

from herald_live import wire


class EndedSessions:
    def __init__(self, *, token_ttl_seconds: int, clock=time.monotonic) -> None:
        # A token signed just before the drop is good for the TTL, give or take the hosts' clock skew.
        self._keep = token_ttl_seconds + 2 * wire.CLOCK_SKEW_SECONDS
        self._clock = clock
        self._until: dict[str, float] = {}
        self._order: deque[tuple[float, str]] = deque()  # deadlines in insertion order, hence sorted

    def add(self, room: str) -> None:
        until = self._clock() + self._keep
        self._until[room] = until
        self._order.append((until, room))
        self._forget_expired()

    def __contains__(self, room: str) -> bool:
        self._forget_expired()
        return room in self._until

    def __len__(self) -> int:
        self._forget_expired()
        return len(self._until)

    def _forget_expired(self) -> None:
        now = self._clock()
        while self._order and self._order[0][0] <= now:
            until, room = self._order.popleft()
            if self._until.get(room) == until:  # not renewed by a later drop of the same room
                del self._until[room]

"""Closes sockets when their session expires: one timer task per process, not one per socket.

A green thread per socket would cost a stack each (several kB, the difference the benchmark
saw against bare Flask-SocketIO); a heap of (deadline, sid) costs a tuple.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable


class ExpiryHeap:
    """Deadlines of the sockets connected now; a socket that leaves takes its entry with it.

    Removal is lazy (the heap entry stays until it surfaces or the heap is rebuilt), but the heap
    never holds more than about twice the live entries: memory follows the sockets connected,
    not every page load since the oldest session's expiry.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._live: dict[str, float] = {}

    def add(self, *, sid: str, expires_at: float) -> None:
        self._live[sid] = expires_at
        heapq.heappush(self._heap, (expires_at, sid))

    def remove(self, sid: str) -> None:
        if self._live.pop(sid, None) is not None and len(self._heap) > 2 * len(self._live) + 64:
            # Rebuilt from the live entries: O(n), and only once stale ones outnumber them.
            self._heap = [(at, live_sid) for live_sid, at in self._live.items()]
            heapq.heapify(self._heap)

    def pop_due(self, *, now: float) -> list[str]:
        due = []
        while self._heap and self._heap[0][0] <= now:
            at, sid = heapq.heappop(self._heap)
            if self._live.get(sid) == at:
                del self._live[sid]
                due.append(sid)
        return due

    def __len__(self) -> int:
        return len(self._live)

    @property
    def entries(self) -> int:
        """What the heap holds, stale entries included (bounded by about twice ``len``)."""
        return len(self._heap)


def run(
    *, heap: ExpiryHeap, expire: Callable[[str], None], sleep: Callable[[float], None], interval: float = 0.25
) -> None:
    """The timer task: forever, every ``interval``, hands each due sid to ``expire``."""
    while True:
        for sid in heap.pop_due(now=time.time()):
            expire(sid)
        sleep(interval)

"""Closes sockets when their session expires: one timer task per process, not one per socket.

A green thread per socket would cost a stack each (several kB, the difference the benchmark
saw against bare Flask-SocketIO); a heap of (deadline, sid) costs a tuple.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable


class ExpiryHeap:
    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []

    def add(self, *, sid: str, expires_at: float) -> None:
        heapq.heappush(self._heap, (expires_at, sid))

    def pop_due(self, *, now: float) -> list[str]:
        due = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[1])
        return due

    def __len__(self) -> int:
        return len(self._heap)


def run(
    *, heap: ExpiryHeap, expire: Callable[[str], None], sleep: Callable[[float], None], interval: float = 0.25
) -> None:
    """The timer task: forever, every ``interval``, hands each due sid to ``expire``.

    Sids of sockets that left already are dropped by ``expire``; they are not removed
    from the heap on disconnect, since a stale entry costs less than a search.
    """
    while True:
        for sid in heap.pop_due(now=time.time()):
            expire(sid)
        sleep(interval)

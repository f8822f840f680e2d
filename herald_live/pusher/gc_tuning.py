"""Garbage-collector settings of a pusher: fewer and shorter full collections, and a metric of each.

A full collection walks every tracked object; with thousands of sockets that is a pause of
300 ms and more during which no event is delivered (docs/benchmark.md). The remedy is to
keep long-lived objects out of the collector's reach: freeze what exists at start-up, then
freeze again every few seconds what has survived since (sockets live for minutes or hours).
Frozen objects are still freed by reference counting; only cycles among them wait for the
rare, scheduled reclaim (unfreeze, one full collection, freeze), instead of an unscheduled
full collection every few seconds under load.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import time
from collections.abc import Callable

from herald_live.pusher import metrics

logger = logging.getLogger("herald.pusher")

_started: list[float] = [0.0]


def _observe(phase: str, info: dict) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        metrics.GC_PAUSE.labels(generation=str(info["generation"])).observe(time.perf_counter() - _started[0])


def tune(*, thresholds: tuple[int, int, int] | None) -> None:
    """Call once, after the app is built and before the server accepts sockets."""
    if thresholds is not None:
        gc.set_threshold(*thresholds)
    gc.collect()
    gc.freeze()
    gc.callbacks.append(_observe)


# glibc keeps freed memory in its arenas; returning it every so often lets RSS follow the sockets
# connected after many have left (a trim of a few hundred MB costs about a millisecond).
TRIM_EVERY_SECONDS = 10.0


def _malloc_trim() -> Callable[[], None]:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return lambda: libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return lambda: None


def maintain(
    *,
    freeze_every: float,
    reclaim_every: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float] = time.monotonic,
    rounds: int | None = None,
) -> None:
    """The background task: freeze survivors every ``freeze_every`` s; reclaim every ``reclaim_every`` s (0: never);
    give freed memory back to the system every TRIM_EVERY_SECONDS."""
    last_reclaim = last_trim = clock()
    trim = _malloc_trim()
    done = 0
    while rounds is None or done < rounds:
        sleep(freeze_every)
        if reclaim_every and clock() - last_reclaim >= reclaim_every:
            started = time.perf_counter()
            gc.unfreeze()
            collected = gc.collect()
            logger.info("gc reclaim collected=%s took_ms=%d", collected, (time.perf_counter() - started) * 1000)
            last_reclaim = clock()
        gc.freeze()
        if clock() - last_trim >= TRIM_EVERY_SECONDS:
            started = time.perf_counter()
            trim()
            metrics.TRIM_PAUSE.observe(time.perf_counter() - started)
            last_trim = clock()
        done += 1

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


def maintain(
    *,
    freeze_every: float,
    reclaim_every: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float] = time.monotonic,
    rounds: int | None = None,
) -> None:
    """The background task: freeze survivors every ``freeze_every`` s; reclaim every ``reclaim_every`` s."""
    last_reclaim = clock()
    done = 0
    while rounds is None or done < rounds:
        sleep(freeze_every)
        if clock() - last_reclaim >= reclaim_every:
            started = time.perf_counter()
            gc.unfreeze()
            collected = gc.collect()
            logger.info("gc reclaim collected=%s took_ms=%d", collected, (time.perf_counter() - started) * 1000)
            last_reclaim = clock()
        gc.freeze()
        done += 1

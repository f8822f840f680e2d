"""Garbage-collector settings of a pusher: fewer and shorter full collections, and a metric of each.

A full collection walks every tracked object; with thousands of sockets that is a pause of
hundreds of milliseconds during which no event is delivered (docs/benchmark.md). Two
remedies, both cheap: freeze what exists at start-up (modules, the app: never garbage), so
that no collection walks it again; and a larger first threshold, so that young collections,
and the full ones they lead to, come less often.
"""

from __future__ import annotations

import gc
import time

from pusher import metrics

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

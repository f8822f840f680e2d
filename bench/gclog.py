"""Logs the pusher's slow garbage collections to stderr (``gc gen2 123.4 ms collected=N at=<monotonic>``).

Stdlib only. ``at`` is ``time.monotonic()`` when the collection ended: system-wide on Linux, so the bench
can tell which of its phases a pause fell in.
"""

import gc
import sys
import time

_started = [0.0]


def _log(phase: str, info: dict) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    took = (time.perf_counter() - _started[0]) * 1000
    if info["generation"] >= 1 and took > 5:
        sys.stderr.write(
            f"gc gen{info['generation']} {took:.1f} ms collected={info['collected']} at={time.monotonic():.3f}\n"
        )


def install() -> None:
    """Collections of generation 1 or 2 longer than 5 ms go to the log."""
    gc.callbacks.append(_log)

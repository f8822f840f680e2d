"""Herald's pusher with its slow garbage collections logged and, optionally, its start-up heap frozen.

``python -m bench.gc_pusher`` (an experiment, not core): imports ``pusher.__main__`` (which monkey-patches
first, as it must), installs ``bench.gclog``, and with ``BENCH_GC_FREEZE=1`` calls ``gc.freeze()``: every
object alive after start-up moves to the permanent generation, so that full collections no longer walk the
libraries' objects; with ``BENCH_GC_FREEZE=periodic`` it freezes every 10 s, the sockets' objects included.
Section 4 runs ``herald+gc.freeze`` beside the plain pusher; ``--servers herald+gc.log:eventlet`` only logs,
``herald+gc.periodic:eventlet`` freezes every 10 s.
"""

import gc
import os
import threading
import time

from bench import gclog  # stdlib only: safe before the pusher's entry point monkey-patches
from herald_live.pusher import __main__ as entry


def _freeze_every(seconds: float) -> None:
    """Moves what has survived so far (the sockets' objects) out of the collector's reach, now and then.

    Frozen objects are still freed by reference counting; only cycles among them wait for gc.unfreeze().
    """
    for _ in range(1_000_000):  # bounded: about 115 days at 10 s
        time.sleep(seconds)
        gc.freeze()


if os.environ.get("BENCH_GC_FREEZE") == "1":
    gc.collect()
    gc.freeze()
elif os.environ.get("BENCH_GC_FREEZE") == "periodic":
    threading.Thread(target=_freeze_every, args=(10.0,), daemon=True).start()  # a green thread once patched
gclog.install()

if __name__ == "__main__":
    entry.main()

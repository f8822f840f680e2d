"""Deprecated since 0.3.0: the publisher moved to herald_live/infra/publisher.py.

Requests never publish: they call an action (``from herald_live import mark_read``), whose publish a worker
makes after commit.
"""

from herald_live.deprecation import moved

MOVED = {name: "herald_live.infra.publisher" for name in ("emit_to_rooms", "emit_batch", "drop_rooms", "PublishFailed")}
__all__ = sorted(MOVED)
__getattr__ = moved("herald_live.publisher", MOVED)

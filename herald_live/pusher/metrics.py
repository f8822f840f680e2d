"""Prometheus metrics of a pusher process, served on a listener of their own (HERALD_PUSHER_METRICS_PORT)."""

from __future__ import annotations

import gc

from prometheus_client import Counter, Gauge, Histogram

SOCKETS = Gauge("herald_pusher_sockets", "Sockets connected and authenticated")
REFUSED = Counter("herald_pusher_sockets_refused", "Handshakes refused, by reason", ["reason"])
EVENTS = Counter("herald_pusher_events", "Events received from the message queue")
DELIVERIES = Counter("herald_pusher_deliveries", "Event deliveries to sockets")
SUBSCRIBED = Gauge("herald_pusher_subscribed", "1 while the Redis subscription is up")
RESYNCS = Counter("herald_pusher_resyncs", "Times every socket was told to refetch, after the subscription was down")
MALFORMED = Counter("herald_pusher_malformed_packets", "Transports closed for a packet that was not Socket.IO")
UNAUTHENTICATED_CLOSED = Counter(
    "herald_pusher_unauthenticated_closed", "Transports closed for not authenticating in time"
)
# Beside herald_pusher_deliveries: the share written straight away (fanout.py). A falling share means sockets with
# something pending (slow clients, full send buffers), whose deliveries wait in their queues.
DIRECT_WRITES = Counter(
    "herald_pusher_direct_writes", "Deliveries written straight to an idle websocket, without its queue"
)
# Presence for web push (presence.py): sessions this pusher reports live, and its writes Redis did not take.
PRESENCE_SESSIONS = Gauge("herald_pusher_presence_sessions", "Sessions with a socket here, as reported to Redis")
PRESENCE_FAILURES = Counter("herald_pusher_presence_failures", "Presence writes that Redis did not take")
DROPS = Counter("herald_pusher_session_drops", "Sockets disconnected because their session ended")
LATENCY = Histogram(
    "herald_pusher_publish_to_emit_seconds",
    "From the worker's publish to this pusher's emit",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
# What the collector no longer walks (gc_tuning.py): it must follow the sockets connected, not every one since start.
GC_FROZEN = Gauge("herald_pusher_gc_frozen_objects", "Objects frozen out of the garbage collector's reach")
GC_FROZEN.set_function(gc.get_freeze_count)
GC_PAUSE = Histogram(
    "herald_pusher_gc_pause_seconds",
    "Garbage-collection pauses, by generation (2 is a full collection)",
    ["generation"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
TRIM_PAUSE = Histogram(
    "herald_pusher_malloc_trim_seconds",
    "Pauses to give freed memory back to the system (malloc_trim)",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)

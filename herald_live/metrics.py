"""Herald's Prometheus counters in the web process; the host serves them with its /metrics."""

from __future__ import annotations

from prometheus_client import Counter

SENDS_ACCEPTED = Counter("herald_web_sends_accepted", "Sends recorded and enqueued", ["audience"])
SENDS_REFUSED = Counter("herald_web_sends_refused", "Sends refused, by reason", ["reason"])

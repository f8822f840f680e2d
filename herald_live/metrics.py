"""Herald's Prometheus counters, in the web and worker processes that import them."""

from __future__ import annotations

from prometheus_client import Counter

SENDS_ACCEPTED = Counter("herald_web_sends_accepted", "Sends recorded and enqueued", ["audience"])
SENDS_REFUSED = Counter("herald_web_sends_refused", "Sends refused, by reason", ["reason"])
# Counted in workers: messages for the pushers that Redis refused (their chunk is run again by the re-drive).
PUBLISH_FAILURES = Counter("herald_worker_publish_failures", "Messages for the pushers that Redis did not take")
# Counted in workers: web push deliveries by outcome (ok, gone: subscription deleted, retry, failed).
PUSH_DELIVERIES = Counter(
    "herald_worker_push_deliveries", "Web push deliveries to push services, by outcome", ["outcome"]
)
# Counted in workers: digest emails by outcome (sent; empty: all read before the send; failed: not tried again;
# deferred: refused for now, tried again next run).
EMAIL_DIGESTS = Counter("herald_worker_email_digests", "Email digests, by outcome", ["outcome"])

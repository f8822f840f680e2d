"""Infrastructure, the bottom layer: what the layers above stand on, and nothing about notifications' rules.

jobs (Celery tasks queued by name), redis_clients (one client factory), publisher (the pushers' Redis message queue),
health (is the broker up), ratelimit (fixed windows in Redis), presence (who has a socket), sql and bulk_insert
(plain SQL where every send pays), unique_index (the fan-out's idempotency index), http (clear errors).
"""

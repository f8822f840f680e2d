"""Herald's settings: ``HERALD_*`` names in the host's Django settings, each with a default.

Herald reads no environment variable: the host's settings module does that (the reference
site's web/settings.py shows how). Values are looked up at each use, so ``override_settings``
works in tests. docs/integrate.md lists them all.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connections

from herald_live import wire

DEFAULTS: dict[str, Any] = {
    # The Redis that carries live messages to the pushers (and Herald's rate limits).
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    # Prefix of the Redis pub/sub channel: one per deployment sharing a Redis.
    "CHANNEL_PREFIX": "herald",
    # Signs the pushers' connection tokens; the pushers get the same value. Required: no default.
    "TOKEN_SECRET": None,
    "TOKEN_TTL_SECONDS": wire.DEFAULT_TOKEN_TTL_SECONDS,
    # Where browsers reach the pusher; empty means the same origin (a proxy routes /socket.io/).
    "PUSHER_URL": "",
    # Recipients per fan-out chunk; None: 250 on SQLite (one writer), 1000 elsewhere.
    "FANOUT_CHUNK_SIZE": None,
    # Listed-user events up to this size use the interactive queue; larger ones the bulk queue.
    "INTERACTIVE_MAX_RECIPIENTS": 100,
    "INTERACTIVE_QUEUE": "herald.interactive",
    # A drain of one-user events that finds work looks again no sooner than this many milliseconds after its
    # previous look: under load, sends gather into batches (less CPU each), for at most this much more delay.
    "DRAIN_PACE_MS": 50,
    "BULK_QUEUE": "herald.bulk",
    # The sender's name on notifications from jobs and the HTTP API.
    "SYSTEM_NAME": "Herald",
    # Sends per user per window from the web (0: no limit), events per service token per window on the API.
    "SEND_RATE_LIMIT": 30,
    "API_RATE_LIMIT": 600,
    "SEND_RATE_WINDOW_SECONDS": 60,
    # Events recorded but not done after this long are enqueued again by the re-drive task.
    "REDRIVE_AFTER_SECONDS": 300,
    # Items per page of the notification center and of the reconnect catch-up.
    "PAGE_SIZE": 20,
    "STATE_PAGE_SIZE": 50,
    # Toasts shown at once; the rest collapse into "+N more".
    "MAX_TOASTS": 3,
    # Web push (herald_live/push/, docs/channels.md): the VAPID key pair from `manage.py herald_vapid_keys` and a
    # contact for the push services (mailto: or https:). Empty: push is off.
    "VAPID_PUBLIC_KEY": "",
    "VAPID_PRIVATE_KEY": "",
    "VAPID_SUBJECT": "",
    "PUSH_QUEUE": "herald.push",
    # Where a click on a push notification leads when the notification's target has no page of its own.
    "PUSH_OPEN_URL": "/",
    # How long a push service keeps a push for a browser that is offline.
    "PUSH_TTL_SECONDS": 24 * 3600,
    # Hosts (and their subdomains) a subscription's endpoint may name: the browsers' push services. Empty: any.
    "PUSH_SERVICE_HOSTS": (
        "fcm.googleapis.com",
        "android.googleapis.com",
        "push.services.mozilla.com",
        "notify.windows.com",
        "push.apple.com",
    ),
    # Tests only: also accept http endpoints on 127.0.0.1/localhost (DEBUG does too).
    "PUSH_ALLOW_INSECURE_ENDPOINTS": False,
    # Retention (herald_live/retention.py): read notifications older than this many days are deleted, and all
    # older than the second (None: unread ones are kept for ever); in batches, each its own short transaction.
    "RETENTION_READ_DAYS": 90,
    "RETENTION_ALL_DAYS": 365,
    "RETENTION_BATCH_SIZE": 1000,
    # Seconds one run of the herald.purge task may take; the next run goes on where it stopped.
    "RETENTION_MAX_SECONDS": 60,
    # Email digests (herald_live/email/, docs/channels.md "Email"). The site's public URL, which the
    # emails link to ("https://www.example.com"); empty: no digest is sent (check herald_live.W002).
    "SITE_URL": "",
    # How long a digest waits after the oldest notification it lists (the "after N minutes" choice, and the hourly
    # one's first email after a quiet hour): what the user reads by then is never mailed. 1 to 1440.
    "EMAIL_DIGEST_DELAY_MINUTES": 10,
    # The hour (UTC, 0-23) of the daily digests.
    "EMAIL_DIGEST_HOUR": 8,
    # Notifications an email lists; the rest are counted ("and 12 more").
    "EMAIL_DIGEST_MAX_ITEMS": 50,
    # Users looked at per batch of a run (a few queries per batch, a claim and a send per due user).
    "EMAIL_DIGEST_BATCH_SIZE": 200,
    # Unread notifications older than this are never mailed (a digest turned on lists the last week at most).
    "EMAIL_DIGEST_MAX_AGE_SECONDS": 7 * 24 * 3600,
}

# Notification.verb is a CharField(255).
MESSAGE_MAX_LENGTH = 255


class _AppSettings:
    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Herald has no setting {name!r}")
        value = getattr(settings, f"HERALD_{name}", DEFAULTS[name])
        if name == "FANOUT_CHUNK_SIZE" and value is None:
            return 250 if connections["default"].vendor == "sqlite" else 1000
        return value


app_settings = _AppSettings()

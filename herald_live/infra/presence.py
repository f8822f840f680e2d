"""Which users have a live socket, as the pushers report it in Redis (herald_live/pusher/presence.py).

Web push goes to users with no live socket (push/audience.py). An unexpired login says nothing about that: a
browser closed with the user still logged in has a session and no socket. The pushers keep the session
digests they hold sockets for in one sorted set (``wire.presence_key``), each scored with the time it
stops counting; a session is present while its score is ahead of now.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping

import redis

from herald_live import wire
from herald_live.conf import app_settings
from herald_live.infra import redis_clients

logger = logging.getLogger(__name__)


# Asked inside a fan-out chunk's transaction: a Redis that does not answer must not hold it long.
TIMEOUT_SECONDS = 0.5


def live_users(*, rooms_by_user: Mapping[int, Iterable[str]], now: float | None = None) -> set[int]:
    """The users (of ``rooms_by_user``: their unexpired sessions' rooms) with a socket on some pusher.

    One Redis round trip (ZMSCORE), none when nobody has a session. Redis not answering: nobody is live,
    so everyone gets a push (at least once, docs/guarantees.md).
    """
    owners: list[int] = []
    digests: list[str] = []
    for user_id, rooms in rooms_by_user.items():
        for room in rooms:
            digest = wire.room_session(room)
            if digest is not None:
                owners.append(user_id)
                digests.append(digest)
    if not digests:
        return set()
    try:
        scores = redis_clients.client(app_settings.REDIS_URL, timeout=TIMEOUT_SECONDS).zmscore(
            wire.presence_key(app_settings.CHANNEL_PREFIX), digests
        )
    except (redis.RedisError, OSError) as exc:
        logger.warning("presence unknown sessions=%s: %s; treating them as away", len(digests), type(exc).__name__)
        return set()
    current = time.time() if now is None else now
    return {user_id for user_id, score in zip(owners, scores, strict=True) if score is not None and score > current}

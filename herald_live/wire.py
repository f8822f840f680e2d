"""The wire contract between web/workers (Django) and the pusher (Flask-SocketIO).

Both sides import this module, so it stays stdlib-only and holds every name that
crosses a process boundary: the Redis channel, room names, socket event names, the
event envelope and the connection-token format. See docs/wire.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

VERSION = 1

# The single socket.io event the browser listens to; the envelope's "type" says what it is.
SOCKET_EVENT = "herald"
NOTIFICATION_CREATED = "notification.created"
NOTIFICATION_READ = "notification.read"
NOTIFICATIONS_READ = "notifications.read"
NOTIFICATION_UNREAD = "notification.unread"
NOTIFICATION_DELETED = "notification.deleted"
# Refetch the whole state: the change cannot be told as one of the events above.
NOTIFICATIONS_CHANGED = "notifications.changed"

NAMESPACE = "/"

# A whole chunk of a fan-out travels as one Redis message: a list of (rooms, envelope).
# It is addressed to a room that no socket ever joins, so a pusher that does not know
# batches delivers it to nobody; Herald's pusher unpacks it (pusher/queue.py).
BATCH_EVENT = "herald.batch"
BATCH_ROOM = "herald:batch"

TOKEN_PREFIX = "v1"  # noqa: S105 - a format tag, not a secret
# Tokens are only needed for the handshake; clients fetch a fresh one for every (re)connect.
DEFAULT_TOKEN_TTL_SECONDS = 120
# HERALD_TOKEN_TTL_SECONDS, which the web (signing) and the pushers (refusing tokens of ended sessions) share.
TOKEN_TTL_BOUNDS = (10, 3600)
# Tolerated clock skew between the web host that signs and the pusher host that verifies.
CLOCK_SKEW_SECONDS = 5
MAX_TOKEN_LENGTH = 1024


def socketio_channel(prefix: str) -> str:
    """The Redis pub/sub channel of the socket.io message queue.

    Pub/sub channels are global to a Redis server (not per database), so the prefix
    keeps deployments and test runs that share one Redis apart.
    """
    return f"{prefix}.socketio"


def session_digest(session_key: str) -> str:
    """A one-way name for a Django session: safe to put in tokens, rooms and logs."""
    return hashlib.sha256(f"herald.session:{session_key}".encode()).hexdigest()[:40]


SESSION_ROOM_PREFIX = "session:"


def session_room(digest: str) -> str:
    return f"{SESSION_ROOM_PREFIX}{digest}"


def envelope(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"v": VERSION, "type": event_type, "data": data}


def stamped(envelope_: dict[str, Any], *, now: float | None = None) -> dict[str, Any]:
    """The envelope with ``sent_at`` (publisher's clock, Unix seconds): pushers measure latency from it."""
    return {**envelope_, "sent_at": time.time() if now is None else now}


def notification_created(notification: dict[str, Any]) -> dict[str, Any]:
    return envelope(NOTIFICATION_CREATED, notification)


def notification_read(*, notification_id: int) -> dict[str, Any]:
    return envelope(NOTIFICATION_READ, {"id": notification_id})


def notification_unread(notification: dict[str, Any]) -> dict[str, Any]:
    """Marked unread again: the whole notification travels, so that a tab that never showed it can."""
    return envelope(NOTIFICATION_UNREAD, notification)


def notification_deleted(*, notification_id: int) -> dict[str, Any]:
    return envelope(NOTIFICATION_DELETED, {"id": notification_id})


def notifications_changed() -> dict[str, Any]:
    return envelope(NOTIFICATIONS_CHANGED, {})


def notifications_read(*, up_to_id: int) -> dict[str, Any]:
    """All of a user's notifications with an id <= up_to_id are read now."""
    return envelope(NOTIFICATIONS_READ, {"up_to_id": up_to_id})


class TokenError(ValueError):
    """The token is missing, malformed, forged, signed with an unknown secret or expired."""


@dataclass(frozen=True)
class TokenClaims:
    session: str  # session_digest(), never the session key
    user_id: int
    expires_at: int  # of the token: only the handshake needs it
    session_expires_at: int | None = None  # of the session: the pusher disconnects the socket then


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, message: str) -> bytes:
    return hmac.new(secret.encode(), message.encode("ascii"), hashlib.sha256).digest()


def sign_token(
    *,
    secret: str,
    session: str,
    user_id: int,
    ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS,
    session_expires_at: int | None = None,
    now: float | None = None,
) -> str:
    """Token format: ``v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>``."""
    issued = int(time.time() if now is None else now)
    claims = {"sid": session, "uid": user_id, "exp": issued + ttl_seconds}
    if session_expires_at is not None:
        claims["sexp"] = int(session_expires_at)
    body = b64url_encode(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signed = f"{TOKEN_PREFIX}.{body}"
    return f"{signed}.{b64url_encode(_mac(secret, signed))}"


def verify_token(*, token: object, secrets: list[str], now: float | None = None) -> TokenClaims:
    """Checks a token against every accepted secret (several while one is rotated out)."""
    if not secrets:
        raise TokenError("no secret configured")
    if not isinstance(token, str) or not token:
        raise TokenError("missing token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("token too long")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise TokenError("malformed token")
    signed = f"{parts[0]}.{parts[1]}"
    try:
        signature = b64url_decode(parts[2])
    except (binascii.Error, ValueError) as exc:
        raise TokenError("malformed token") from exc
    if not any(hmac.compare_digest(signature, _mac(secret, signed)) for secret in secrets):
        raise TokenError("bad signature")
    try:
        claims = json.loads(b64url_decode(parts[1]))
        session, user_id, expires_at = claims["sid"], claims["uid"], claims["exp"]
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise TokenError("malformed claims") from exc
    if not (isinstance(session, str) and session and isinstance(user_id, int)):
        raise TokenError("malformed claims")
    session_expires_at = claims.get("sexp")
    for value in (expires_at, session_expires_at):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise TokenError("malformed claims")
    if expires_at is None:
        raise TokenError("malformed claims")
    current = time.time() if now is None else now
    if expires_at + CLOCK_SKEW_SECONDS < current:
        raise TokenError("expired token")
    if session_expires_at is not None and session_expires_at <= current:
        raise TokenError("expired session")
    return TokenClaims(session=session, user_id=user_id, expires_at=expires_at, session_expires_at=session_expires_at)


# Presence: the sessions with a live socket on some pusher, for the workers' web push. One Redis sorted set
# per deployment; member: a session digest; score: until when (Unix seconds) it counts as live. Pushers
# write it (pusher/presence.py), workers read it (infra/presence.py, for push/audience.py). Best effort: a
# session missing from the set costs an extra push, never a lost notification.
def presence_key(prefix: str) -> str:
    """The sorted set of live session digests (see above), in the Redis database both sides share."""
    return f"{prefix}:presence"


def room_session(room: str) -> str | None:
    """The session digest of a session room (``session_room``'s inverse); None for any other room."""
    return room[len(SESSION_ROOM_PREFIX) :] if room.startswith(SESSION_ROOM_PREFIX) else None

"""The pusher: authenticates sockets with a Django-signed token and joins them to their session's room.

It keeps no state that matters: the rooms are rebuilt by clients reconnecting, and the
database behind the web's JSON endpoint is the backlog.
"""

from __future__ import annotations

import logging

import redis
from flask import Flask, jsonify, request
from flask_socketio import SocketIO, join_room
from socketio import exceptions as socketio_errors

from herald_live import wire
from herald_live.pusher import expiry, metrics, presence, redis_clients
from herald_live.pusher.config import PusherConfig
from herald_live.pusher.ended import EndedSessions
from herald_live.pusher.guard import TransportGuard
from herald_live.pusher.pinger import PingScheduler
from herald_live.pusher.queue import SessionDroppingRedisManager

logger = logging.getLogger("herald.pusher")

# What a refused page is told beside "unauthorized" (its console shows it), by the token check's reason: the setting
# to fix. Nothing secret: a forged token learns only that it is refused.
FETCHED_TOKENS = "the page fetches a token from Herald's socket-token URL before each connect: is it reachable?"
REFUSAL_FIXES = {
    "missing token": FETCHED_TOKENS,
    "malformed token": FETCHED_TOKENS,
    "token too long": FETCHED_TOKENS,
    "malformed claims": FETCHED_TOKENS,
    "bad signature": (
        "the token was signed with another secret: HERALD_TOKEN_SECRET must be the same on the web and on every "
        "pusher (HERALD_TOKEN_SECRETS_OLD holds the old one while rotating)"
    ),
    "expired token": (
        "the token expired on its way: the web's and the pusher's clocks differ by more than a few seconds, or "
        "HERALD_TOKEN_TTL_SECONDS is too short"
    ),
    "expired session": "the session expired: log in again",
    "ended session": "the session ended (a logout or a revocation): log in again",
}


def create_app(config: PusherConfig, *, async_mode: str) -> tuple[Flask, SocketIO]:
    app = _PusherFlask(__name__)
    manager = SessionDroppingRedisManager(
        config.redis_url,
        channel=wire.socketio_channel(config.channel_prefix),
        ended=EndedSessions(token_ttl_seconds=config.token_ttl_seconds),
    )
    socketio = SocketIO(
        app,
        async_mode=async_mode,
        client_manager=manager,
        cors_allowed_origins=config.allowed_origins,
        logger=False,
        engineio_logger=False,
        # Clients only listen; anything they send is small.
        max_http_buffer_size=16 * 1024,
    )

    guard = TransportGuard(
        socketio.server,
        auth_timeout_seconds=config.auth_timeout_seconds,
        max_pending_per_address=config.max_pending_per_address,
        trusted_proxies=config.trusted_proxies,
    )
    guard.install()
    PingScheduler(interval=socketio.server.eio.ping_interval, sleep=socketio.sleep).install(socketio.server)

    expiries = expiry.ExpiryHeap()
    socketio.start_background_task(
        expiry.run, heap=expiries, expire=lambda sid: _expire(socketio, sid), sleep=socketio.sleep
    )

    # Which sessions have a socket here, for the workers' web push: written by one task, never per message.
    present = presence.for_prefix(config.redis_url, prefix=config.channel_prefix, seconds=config.presence_seconds)
    socketio.start_background_task(present.run, sleep=socketio.sleep)
    app.extensions["herald_presence"] = present

    health_redis = redis_clients.client(config.redis_url, timeout=1)

    @app.get("/healthz")
    def healthz():
        try:
            health_redis.ping()
        except redis.RedisError:
            return jsonify(status="unhealthy", redis="down", subscribed=manager.subscribed), 503
        if not manager.subscribed:
            # Redis answers but this pusher has not resubscribed yet: its sockets miss what is published.
            return jsonify(status="unhealthy", redis="up", subscribed=False), 503
        return jsonify(status="ok", redis="up", subscribed=True)

    @socketio.on("connect")
    def connect(auth=None):
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            claims = wire.verify_token(token=token, secrets=config.token_secrets)
            # The room comes from the signed claims, never from anything else the client sends.
            room = wire.session_room(claims.session)
            if room in manager.ended:
                raise wire.TokenError("ended session")
        except wire.TokenError as exc:
            metrics.REFUSED.labels(reason=str(exc)).inc()
            logger.info("socket refused reason=%r", str(exc))
            guard.refused(request.sid, request.namespace)
            reason = str(exc)
            # python-socketio's refusal, not the builtin one (which it answers with a generic message): only its
            # arguments reach the client.
            raise socketio_errors.ConnectionRefusedError(
                "unauthorized", {"reason": reason, "fix": REFUSAL_FIXES.get(reason, "")}
            ) from None
        guard.authenticated(request.sid, request.namespace)
        join_room(room)
        present.joined(sid=request.sid, session=claims.session)
        metrics.SOCKETS.inc()
        if claims.session_expires_at is not None:
            expiries.add(sid=request.sid, expires_at=claims.session_expires_at)
        logger.debug("socket joined user_id=%s session=%s", claims.user_id, claims.session[:12])

    @socketio.on("disconnect")
    def disconnect(*args):
        metrics.SOCKETS.dec()
        expiries.remove(request.sid)
        present.left(request.sid)

    return app, socketio


class _PusherFlask(Flask):
    """Flask-SocketIO runs each socket handler in a request context built from the handshake's URL, which
    Flask would route: werkzeug's matcher leaves a reference cycle per match (and a NotFound with its
    traceback when nothing matches), and the collector's freeze (gc_tuning.py) would keep those for good.
    Engine.IO answers that path before Flask ever routes it, so there is nothing to match."""

    def create_url_adapter(self, request):
        if request is not None and request.path.startswith("/socket.io/"):
            return None
        return super().create_url_adapter(request)


def _expire(socketio: SocketIO, sid: str) -> None:
    """The session of this socket expired: close it, if it is still here."""
    if socketio.server.manager.is_connected(sid, wire.NAMESPACE):
        socketio.server.disconnect(sid, namespace=wire.NAMESPACE, ignore_queue=True)
        metrics.DROPS.inc()


def subscribe_now(socketio: SocketIO) -> None:
    """Starts the Redis subscription at start-up rather than at the first socket.

    python-socketio starts it lazily; until then /healthz would say "not subscribed" on an
    idle pusher, and an alert on it would fire for nothing.
    """
    server = socketio.server
    if not server.manager_initialized:
        server.manager_initialized = True
        server.manager.initialize()


def drain(socketio: SocketIO, *, present: presence.Presence | None = None) -> int:
    """Disconnects every socket so that clients reconnect elsewhere (before a restart or scale-down),
    and takes their sessions out of the presence set at once rather than leaving them to expire."""
    server = socketio.server
    sids = [sid for sid, _eio_sid in list(server.manager.get_participants(wire.NAMESPACE, None))]
    for sid in sids:
        server.disconnect(sid, namespace=wire.NAMESPACE, ignore_queue=True)
    if present is not None:
        present.write()
    return len(sids)

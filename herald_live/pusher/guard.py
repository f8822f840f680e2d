"""What a client may do to a pusher before and besides authenticating: very little, briefly.

python-socketio keeps an Engine.IO transport open after its namespace connect was refused (the
client may try again), and forever when it never asks to connect: one client could hold a pusher's
file descriptors and memory without a valid token. Clients of Herald only listen, so any event a
client sends is dropped, including ones named like the server's own ``connect`` and
``disconnect`` handlers, which python-socketio would otherwise run. A malformed packet closes its
transport with one log line, not a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable

import socketio

from herald_live import forwarded
from herald_live.pusher import metrics
from herald_live.pusher.config import IPNetwork

logger = logging.getLogger("herald.pusher")

SWEEP_EVERY_SECONDS = 0.5
# A refused client first receives CONNECT_ERROR (the reason); its transport closes right after.
CLOSE_REFUSED_AFTER_SECONDS = 0.1
# A closed WebSocket waits for the client's closing frame, and the server's reader for its next packet
# (up to the ping interval plus timeout, 45 s): a client that never answers would hold the descriptor.
# This long after the close, the connection is shut down under them.
ABORT_AFTER_SECONDS = 1.0


def raw_socket(wsgi_env: dict) -> socket.socket | None:
    """The TCP connection under a WebSocket request, as eventlet's and gevent's servers expose it."""
    if "eventlet.input" in wsgi_env:
        return wsgi_env["eventlet.input"].get_socket()
    wsgi_input = wsgi_env.get("wsgi.input")
    if wsgi_input is not None and not hasattr(wsgi_input, "raw") and hasattr(wsgi_input, "rfile"):
        wsgi_input = wsgi_input.rfile
    raw = getattr(wsgi_input, "raw", None)
    return getattr(raw, "_sock", None)


def client_address(wsgi_env: dict, *, trusted_proxies: tuple[IPNetwork, ...]) -> str:
    """The client's address: the peer's, or, behind proxies named trusted, the first hop they did not write."""
    return forwarded.client_ip(
        remote_addr=wsgi_env.get("REMOTE_ADDR") or "unknown",
        forwarded_for=wsgi_env.get("HTTP_X_FORWARDED_FOR", ""),
        trusted=trusted_proxies,
    )


class TransportGuard:
    """Tracks transports that have not authenticated yet, per client address, and closes them in time."""

    def __init__(
        self,
        server: socketio.Server,
        *,
        auth_timeout_seconds: float,
        max_pending_per_address: int,
        trusted_proxies: tuple[IPNetwork, ...],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.server = server
        self.auth_timeout_seconds = auth_timeout_seconds
        self.max_pending_per_address = max_pending_per_address
        self.trusted_proxies = trusted_proxies
        self.clock = clock
        self.pending: dict[str, tuple[float, str]] = {}  # eio sid -> (deadline, address)
        self.connections: dict[str, socket.socket] = {}  # eio sid -> its TCP connection, while pending
        self.per_address: Counter[str] = Counter()

    def install(self) -> None:
        server = self.server
        eio_connect, eio_message, eio_disconnect = (
            server._handle_eio_connect,
            server._handle_eio_message,
            server._handle_eio_disconnect,
        )

        def on_eio_connect(eio_sid, wsgi_env):
            address = client_address(wsgi_env, trusted_proxies=self.trusted_proxies)
            if self.per_address[address] >= self.max_pending_per_address:
                metrics.REFUSED.labels(reason="too many unauthenticated transports").inc()
                return False  # Engine.IO answers the handshake with 401 and keeps nothing
            self.pending[eio_sid] = (self.clock() + self.auth_timeout_seconds, address)
            self.per_address[address] += 1
            if "transport=websocket" in wsgi_env.get("QUERY_STRING", ""):
                connection = raw_socket(wsgi_env)
                if connection is not None:
                    self.connections[eio_sid] = connection
            return eio_connect(eio_sid, wsgi_env)

        def on_eio_message(eio_sid, data):
            try:
                return eio_message(eio_sid, data)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
                metrics.MALFORMED.inc()
                logger.info("malformed packet; transport closed error=%s", type(exc).__name__)
                self._close(eio_sid)

        def on_eio_disconnect(eio_sid, *args):
            self._forget(eio_sid)
            return eio_disconnect(eio_sid, *args)

        # socketio.Server registered its own methods with Engine.IO when it was made.
        server.eio.on("connect", on_eio_connect)
        server.eio.on("message", on_eio_message)
        server.eio.on("disconnect", on_eio_disconnect)
        # Clients only listen: no event they send runs anything.
        server._handle_event = lambda eio_sid, namespace, id, data: None
        server.start_background_task(self._sweep)

    def authenticated(self, sid: str, namespace: str) -> None:
        """The socket's token was valid: its transport is no longer pending."""
        eio_sid = self.server.manager.eio_sid_from_sid(sid, namespace)
        if eio_sid is not None:
            self._forget(eio_sid)

    def refused(self, sid: str, namespace: str) -> None:
        """The socket's token was refused: its transport closes now, not when the client gives up."""
        eio_sid = self.server.manager.eio_sid_from_sid(sid, namespace)
        if eio_sid is not None and eio_sid in self.pending:
            deadline, address = self.pending[eio_sid]
            self.pending[eio_sid] = (min(deadline, self.clock()), address)
            self.server.start_background_task(self._close_soon, eio_sid)

    def _close_soon(self, eio_sid: str) -> None:
        self.server.sleep(CLOSE_REFUSED_AFTER_SECONDS)
        self._close(eio_sid)

    def _close(self, eio_sid: str) -> None:
        connection = self.connections.get(eio_sid)
        self._forget(eio_sid)
        sock = self.server.eio.sockets.get(eio_sid)
        if sock is not None:
            # Not eio.disconnect(): it waits until the client has read the close (a long-polling client that
            # never polls again would block this task for good). The transport goes at once.
            with contextlib.suppress(Exception):
                sock.close(wait=False, abort=True)
            self.server.eio.sockets.pop(eio_sid, None)
        if connection is not None:
            self.server.start_background_task(self._abort, connection)

    def _abort(self, connection: socket.socket) -> None:
        self.server.sleep(ABORT_AFTER_SECONDS)
        # Shut down, not closed: the server still owns the socket object. A connection already
        # gone (the client answered the close) raises, which is fine.
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)

    def _forget(self, eio_sid: str) -> None:
        self.connections.pop(eio_sid, None)
        entry = self.pending.pop(eio_sid, None)
        if entry is not None:
            address = entry[1]
            self.per_address[address] -= 1
            if self.per_address[address] <= 0:
                del self.per_address[address]

    def _sweep(self) -> None:
        while True:
            self.server.sleep(SWEEP_EVERY_SECONDS)
            now = self.clock()
            late = [eio_sid for eio_sid, (deadline, _address) in self.pending.items() if deadline <= now]
            for eio_sid in late:
                metrics.UNAUTHENTICATED_CLOSED.inc()
                self._close(eio_sid)

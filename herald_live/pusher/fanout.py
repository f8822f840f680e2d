"""Delivery of one event to many local sockets: encoded once, written straight to each idle websocket.

python-socketio's ``Manager.emit`` hands every recipient the same Engine.IO packet, but each one goes
through ``eio.send_packet``, the socket's queue, a wake-up of that socket's writer green thread, the
websocket library's framing and a send lock: in a burst to thousands of sockets most of the pusher's CPU
was this per-socket machinery, not the send itself. Here an event is encoded and framed once (the same
bytes python-socketio and the websocket libraries produce), and written with one non-blocking send to
every socket whose writer has nothing pending. A socket with anything pending, or whose send buffer is
full, gets the packet through its queue as before, so that the order of what one socket receives never
changes and a slow client never holds the others up.

Only websockets are written directly; long-polling sockets, sockets in the middle of an upgrade, TLS
sockets and anything not recognised use the library's path.
"""

from __future__ import annotations

import logging
import socket as _socket
import ssl
from collections.abc import Iterable

from engineio import packet as eio_packet
from socketio import packet as sio_packet

from herald_live.pusher import metrics

logger = logging.getLogger("herald.pusher")

# After this many direct sends the delivering task lets the others run (new connections, pongs): a burst
# to every socket must not hold the event loop for its whole length.
YIELD_EVERY = 512


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final RFC 6455 text frame, as a server sends it."""
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 65536:
        header = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return header + payload


class Channel:
    """What a direct write to one Engine.IO socket's websocket needs, captured when its websocket opens.

    ``lock`` is the lock the websocket's own writer holds while it sends (eventlet's ``_sendlock``; for
    simple-websocket under gevent a lock added around its ``send``): while it is held a frame is half
    written and nothing else may touch the stream. ``raw`` is the non-blocking OS socket under the green one.
    """

    __slots__ = ("green", "lock", "raw")

    def __init__(self, *, green, raw: _socket.socket, lock) -> None:
        self.green = green
        self.raw = raw
        self.lock = lock


class Fanout:
    """Installed once per socketio.Server (the manager's ``initialize``), before any socket connects."""

    def __init__(self, server) -> None:
        self.server = server
        self.eio = server.eio
        self.mode = server.async_mode
        self._capture_websockets()

    # --- capture ---------------------------------------------------------------------------------------

    def _capture_websockets(self) -> None:
        """Wraps the Engine.IO websocket handler so that each socket records its Channel while it is open.

        ``eio._async`` is the async driver's module-level table: a copy is changed, never the table itself.
        """
        original = self.eio._async.get("websocket")
        if original is None or self.mode not in ("eventlet", "gevent"):
            return
        fanout = self

        def websocket_class(handler, server):
            return original(fanout._capturing(handler), server)

        self.eio._async = {**self.eio._async, "websocket": websocket_class}

    def _capturing(self, handler):
        eio_socket = getattr(handler, "__self__", None)

        def handle(ws):
            channel = None
            try:
                channel = self._channel(ws)
            except Exception as exc:  # noqa: BLE001 - a socket we cannot read stays on the library's path
                logger.debug("no direct writes for this websocket: %s", type(exc).__name__)
            if eio_socket is not None:
                eio_socket.herald_channel = channel
            try:
                return handler(ws)
            finally:
                if eio_socket is not None:
                    eio_socket.herald_channel = None

        return handle

    def _channel(self, ws) -> Channel | None:
        if self.mode == "eventlet":
            # eventlet.websocket.RFC6455WebSocket: a GreenSocket whose .fd is the OS socket.
            green = ws.socket
            raw = getattr(green, "fd", None)
            lock = getattr(ws, "_sendlock", None)
        else:
            # engineio's SimpleWebSocketWSGI: .ws is a simple_websocket.Server on a gevent socket.
            import gevent.lock

            green = ws.ws.sock
            raw = getattr(green, "_sock", None)
            lock = gevent.lock.Semaphore()
            ws.send = _whole_frames(ws.ws, lock)
            ws.close = _locked(ws.close, lock)
        # TLS: gevent's SSLSocket is no ssl.SSLSocket and its _sock is the plain TCP socket under the TLS stream.
        tls = isinstance(raw, ssl.SSLSocket) or hasattr(green, "_sslobj")
        if raw is None or lock is None or tls or raw.gettimeout() != 0.0:
            return None
        return Channel(green=green, raw=raw, lock=lock)

    # --- delivery --------------------------------------------------------------------------------------

    def encode(self, event: str, data, namespace: str) -> tuple[eio_packet.Packet, bytes] | None:
        """The Engine.IO packet and its websocket frame, as Manager.emit would send them; None for binary data."""
        pkt = self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, data], binary=False)
        encoded = pkt.encode()
        if not isinstance(encoded, str):
            return None
        message = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        return message, text_frame(message.encode().encode())

    def send(self, eio_sids: Iterable[str], message: eio_packet.Packet, frame: bytes, *, now: float) -> int:
        """Delivers one encoded event to these Engine.IO sockets; returns how many were handed it."""
        sockets = self.eio.sockets
        timeout = self.eio.ping_timeout
        handed = direct = 0
        for eio_sid in eio_sids:
            s = sockets.get(eio_sid)
            if s is None or s.closed:
                continue
            handed += 1
            channel = s.__dict__.get("herald_channel")
            last_ping = s.last_ping
            # Anything pending (queued packets, a frame half written) goes first: this one joins the queue.
            # A client that stopped answering pings is left to the library's send, which closes it.
            if (
                channel is None
                or not s.upgraded
                or s.closing
                or s.queue.qsize()
                or channel.lock.locked()
                or (last_ping and now - last_ping > timeout)
            ):
                self._queue(s, message)
                continue
            try:
                sent = channel.raw.send(frame)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                # The connection is gone; the socket's reader finds out and closes it.
                continue
            if sent == len(frame):
                direct += 1
                if direct % YIELD_EVERY == 0:
                    self.server.sleep(0)
            elif sent == 0:
                self._queue(s, message)  # send buffer full: the writer waits for it
            else:
                # Part of the frame is out: finish it before anything else is written to this socket.
                channel.lock.acquire()
                self.server.start_background_task(_finish, channel, frame[sent:])
                direct += 1
        metrics.DIRECT_WRITES.inc(direct)
        return handed

    def _queue(self, s, message: eio_packet.Packet) -> None:
        try:
            s.send(message)
        except Exception as exc:  # noqa: BLE001 - a closing socket: as eio.send_packet, it just does not get it
            logger.debug("send to a closing socket: %s", type(exc).__name__)


def _locked(send, lock):
    def locked(*args, **kwargs):
        with lock:
            return send(*args, **kwargs)

    return locked


def _whole_frames(server, lock):
    """The gevent writer's send (engineio's SimpleWebSocketWSGI.send), with the socket's send lock held and the
    whole frame written.

    simple-websocket writes a frame with one ``socket.send`` and drops what the send buffer did not take: a
    client that reads slowly got a broken stream (tests/herald_live/pusher/test_fanout.py). The frame is made by
    the same wsproto connection, then written with ``sendall``.
    """
    from simple_websocket import ConnectionClosed
    from wsproto.events import BytesMessage, TextMessage
    from wsproto.utilities import LocalProtocolError

    def send(message) -> None:
        with lock:
            if not server.connected:
                raise OSError("websocket closed")  # what SimpleWebSocketWSGI.send raises for ConnectionClosed
            event = BytesMessage(data=message) if isinstance(message, bytes) else TextMessage(data=str(message))
            try:
                server.sock.sendall(server.ws.send(event))
            except (ConnectionClosed, LocalProtocolError) as exc:
                raise OSError("websocket closed") from exc

    return send


def _finish(channel: Channel, rest: bytes) -> None:
    """The rest of a frame that did not fit the send buffer, with the socket's send lock held."""
    try:
        channel.green.sendall(rest)
    except OSError:
        # Half a frame went out and the rest cannot: the stream is broken, so end it (the reader closes).
        try:
            channel.raw.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass
    finally:
        channel.lock.release()

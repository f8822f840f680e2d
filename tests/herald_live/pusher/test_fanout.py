"""Direct writes to idle websockets (herald_live/pusher/fanout.py), in both async modes, on a real pusher.

A delivery skips the socket's queue only when nothing is pending for that socket; a client that stops reading
must get everything later, whole and in order, and must not hold up the others.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import struct

import pytest
import requests

from herald_live import wire
from herald_live.infra import publisher
from tests.conftest import start_pusher
from tests.support.clients import LiveSocket
from tests.support.metrics import metric


@pytest.fixture(scope="module", params=["eventlet", "gevent"])
def pusher(request, system_env):
    service = start_pusher(system_env, request.param)
    service.origin = system_env["HERALD_ALLOWED_ORIGINS"].split(",")[0]
    yield service
    service.stop()


def new_room() -> tuple[str, str]:
    """A session's room and a token for it."""
    digest = wire.session_digest(secrets.token_hex(16))
    token = wire.sign_token(secret=os.environ["HERALD_TOKEN_SECRET"], session=digest, user_id=1)
    return wire.session_room(digest), token


class StallingSocket:
    """A websocket client that reads only when told to, with a small receive buffer: a slow client."""

    def __init__(self, url: str, *, origin: str, token: str) -> None:
        port = int(url.rsplit(":", 1)[1])
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n", 1)[0], head
        assert self.read().startswith("0")  # Engine.IO open
        self.send("40" + json.dumps({"token": token}))
        assert self.read().startswith("40")  # namespace connected

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the pusher")
        return chunk

    def _take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self.buffer += self._recv()
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def read(self) -> str:
        """One text message; answers pings on the way."""
        while True:
            first, second = self._take(2)
            assert first == 0x81, f"not a final text frame: {first:#x}"  # anything else: a broken stream
            length = second & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._take(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._take(8))[0]
            text = self._take(length).decode()
            if text == "2":
                self.send("3")
                continue
            return text

    def send(self, text: str) -> None:
        data = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81, 0x80 | len(data)]) if len(data) < 126 else bytes([0x81, 0xFE]) + len(data).to_bytes(2)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def close(self) -> None:
        self.sock.close()


def direct_writes(pusher) -> float:
    return metric(requests.get(pusher.metrics_url, timeout=5).text, "herald_pusher_direct_writes_total")


def test_an_event_to_an_idle_websocket_is_written_directly(pusher):
    room, token = new_room()
    other_room, other_token = new_room()
    live = LiveSocket(origin=pusher.origin).connect(pusher.url, token)
    other = LiveSocket(origin=pusher.origin).connect(pusher.url, other_token)
    try:
        before = direct_writes(pusher)
        publisher.emit_to_rooms(rooms=[room], payload=wire.notification_created({"id": 1}))
        live.wait_for(lambda s: s.created_ids() == [1])
        # A fan-out chunk: one message for both sockets.
        publisher.emit_batch(
            messages=[
                ([room], wire.notification_created({"id": 2})),
                ([other_room], wire.notification_created({"id": 3})),
            ]
        )
        live.wait_for(lambda s: s.created_ids() == [1, 2])
        other.wait_for(lambda s: s.created_ids() == [3])
        assert direct_writes(pusher) == before + 3
    finally:
        live.close()
        other.close()


def test_a_client_that_stops_reading_gets_everything_in_order_later_and_holds_nobody_up(pusher):
    slow_room, slow_token = new_room()
    room, token = new_room()
    slow = StallingSocket(pusher.url, origin=pusher.origin, token=slow_token)
    live = LiveSocket(origin=pusher.origin).connect(pusher.url, token)
    padding = "x" * 20_000
    # 6 MB for a client that does not read: more than the kernel's buffers take (4 MB at most for a socket's send
    # buffer here, tcp_wmem), so that the pusher must finish a half-written frame and queue the rest.
    count = 300
    try:
        before = direct_writes(pusher)
        for i in range(count):
            # Alternately alone and in a chunk, so that both paths meet the full buffer.
            envelope = wire.notification_created({"id": i, "padding": padding})
            if i % 2:
                publisher.emit_batch(messages=[([slow_room], envelope)])
            else:
                publisher.emit_to_rooms(rooms=[slow_room], payload=envelope)
        publisher.emit_to_rooms(rooms=[room], payload=wire.notification_created({"id": 1}))
        live.wait_for(lambda s: s.created_ids() == [1])
        assert direct_writes(pusher) - before < count + 1, "every write went straight out: nothing was tested"

        received = []
        while len(received) < count:
            event, envelope = json.loads(slow.read().removeprefix("42"))
            assert event == wire.SOCKET_EVENT
            received.append(envelope["data"])
        assert [data["id"] for data in received] == list(range(count))
        assert all(data["padding"] == padding for data in received)
    finally:
        slow.close()
        live.close()


def test_a_socket_upgraded_from_long_polling_gets_every_event_in_order(pusher):
    room, token = new_room()
    live = LiveSocket(origin=pusher.origin)
    live.client.connect(pusher.url, auth={"token": token}, transports=["polling", "websocket"], wait_timeout=10)
    try:
        for i in range(20):
            publisher.emit_to_rooms(rooms=[room], payload=wire.notification_created({"id": 2 * i}))
            publisher.emit_batch(messages=[([room], wire.notification_created({"id": 2 * i + 1}))])
        live.wait_for(lambda s: len(s.created_ids()) == 40)
        assert live.created_ids() == list(range(40))
    finally:
        live.close()

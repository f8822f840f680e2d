"""A load-client process: many socket.io sockets over raw websockets in one asyncio loop.

Speaks just enough Engine.IO 4 / Socket.IO 5 over RFC 6455 to stay cheap on the client side: the
handshake, ``40`` (namespace connect, with auth), ``42`` events, and answering the server's pings.

Driven by JSON lines: the first line on stdin is its configuration, then commands:

- ``{"cmd": "start"}``: forget what was received so far (a phase begins).
- ``{"cmd": "report", "first": a, "end": b, "users": U}``: wait until every socket has what it was
  sent (events with seq in [a, b) go to user seq % U), or until no delivery for ``idle`` seconds, then
  print counts of deliveries, losses, doubles and strays, the latencies and this process's CPU.
- ``{"cmd": "quit"}``.

Every event carries ``bench_seq`` and ``bench_t`` (``time.monotonic()`` at publish: system-wide on Linux).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Closed(Exception):
    pass


def _frame(text: str) -> bytes:
    """One masked text frame (clients must mask)."""
    data = text.encode()
    n = len(data)
    if n < 126:
        header = bytes([0x81, 0x80 | n])
    elif n < 65536:
        header = bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([0x81, 0x80 | 127]) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big") if n else 0
    masked = (int.from_bytes(data, "big") ^ key).to_bytes(n, "big") if n else b""
    return header + mask + masked


class Socket:
    __slots__ = ("user", "reader", "writer", "seqs", "closed_by_server", "task")

    def __init__(self, user: int) -> None:
        self.user = user
        self.seqs: list[int] = []
        self.closed_by_server = False
        self.reader = self.writer = self.task = None

    async def read_message(self) -> str:
        parts = []
        while True:
            try:
                head = await self.reader.readexactly(2)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                raise Closed from exc
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = int.from_bytes(await self.reader.readexactly(2), "big")
            elif length == 127:
                length = int.from_bytes(await self.reader.readexactly(8), "big")
            mask = await self.reader.readexactly(4) if head[1] & 0x80 else None
            payload = await self.reader.readexactly(length) if length else b""
            if mask:
                payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise Closed
            if opcode == 0x9:
                self.writer.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
                continue
            if opcode == 0xA:
                continue
            parts.append(payload)
            if head[0] & 0x80:
                return b"".join(parts).decode()

    def send(self, text: str) -> None:
        self.writer.write(_frame(text))


class Client:
    def __init__(self, config: dict) -> None:
        self.config = config
        self.sockets: list[Socket] = []
        self.latencies: list[float] = []
        self.first_receive: float | None = None
        self.last_receive: float | None = None
        self.deliveries = 0
        self.disconnects = 0
        self.disconnects_at_start = 0
        self.errors: list[str] = []

    async def open(self, spec: dict) -> Socket:
        host, port = self.config["host"], self.config["port"]
        sock = Socket(spec["user"])
        sock.reader, sock.writer = await asyncio.open_connection(host, port, limit=1 << 20)
        key = base64.b64encode(os.urandom(16)).decode()
        query = f"EIO=4&transport=websocket{'&' + spec['query'] if spec.get('query') else ''}"
        request = (
            f"GET /socket.io/?{query} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {self.config['origin']}\r\n\r\n"
        )
        sock.writer.write(request.encode())
        head = await sock.reader.readuntil(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise ConnectionError(status.decode(errors="replace"))
        opening = await sock.read_message()
        if not opening.startswith("0"):
            raise ConnectionError(f"no engine.io open packet: {opening[:80]}")
        auth = spec.get("auth")
        sock.send("40" + (json.dumps(auth) if auth else ""))
        while True:
            answer = await sock.read_message()
            if answer == "2":
                sock.send("3")
                continue
            break
        if not answer.startswith("40"):
            raise ConnectionError(f"namespace refused: {answer[:120]}")
        sock.task = asyncio.create_task(self.pump(sock))
        return sock

    async def pump(self, sock: Socket) -> None:
        try:
            while True:
                message = await sock.read_message()
                if message.startswith("42"):
                    now = time.monotonic()
                    data = json.loads(message[2:])[1]["data"]
                    sock.seqs.append(data["bench_seq"])
                    self.latencies.append(now - data["bench_t"])
                    self.deliveries += 1
                    if self.first_receive is None:
                        self.first_receive = now
                    self.last_receive = now
                elif message == "2":
                    sock.send("3")
                elif message.startswith("41") or message.startswith("1"):
                    raise Closed
        except Closed:
            sock.closed_by_server = True
            self.disconnects += 1
        except Exception as exc:  # noqa: BLE001 - counted and reported, never fatal
            self.errors.append(repr(exc)[:200])
            self.disconnects += 1

    async def connect_all(self) -> dict:
        started = time.monotonic()
        limit = asyncio.Semaphore(self.config.get("concurrency", 100))
        failed = 0

        async def one(spec):
            nonlocal failed
            async with limit:
                for attempt in range(3):
                    try:
                        self.sockets.append(await asyncio.wait_for(self.open(spec), timeout=30))
                        return
                    except Exception as exc:  # noqa: BLE001
                        if attempt == 2:
                            failed += 1
                            if len(self.errors) < 20:
                                self.errors.append(repr(exc)[:200])
                        else:
                            await asyncio.sleep(0.5)

        await asyncio.gather(*(one(spec) for spec in self.config["sockets"]))
        return {
            "ready": len(self.sockets),
            "failed": failed,
            "connect_seconds": round(time.monotonic() - started, 2),
            "errors": self.errors[:5],
            "pid": os.getpid(),
        }

    def start_phase(self) -> dict:
        for sock in self.sockets:
            sock.seqs = []
        self.latencies = []
        self.deliveries = 0
        self.first_receive = self.last_receive = None
        self.disconnects_at_start = self.disconnects
        return {"started": True}

    def _missing(self, first: int, end: int, users: int) -> int:
        missing = 0
        for sock in self.sockets:
            expected = _expected_count(first, end, users, sock.user)
            missing += max(0, expected - len(set(sock.seqs)))
        return missing

    async def report(self, command: dict) -> dict:
        first, end, users = command["first"], command["end"], command["users"]
        idle, deadline = command.get("idle", 2.0), time.monotonic() + command.get("max_wait", 30.0)
        seen, quiet_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            if self._missing(first, end, users) == 0:
                break
            if self.deliveries != seen:
                seen, quiet_since = self.deliveries, time.monotonic()
            elif time.monotonic() - quiet_since > idle:
                break
            await asyncio.sleep(0.05)
        lost = doubled = stray = 0
        for sock in self.sockets:
            start = first + ((sock.user - first) % users)
            expected = set(range(start, end, users))
            got = set(sock.seqs)
            lost += len(expected - got)
            doubled += len(sock.seqs) - len(got)
            stray += len(got - expected)
        return {
            "sockets": len(self.sockets),
            "deliveries": self.deliveries,
            "lost": lost,
            "doubled": doubled,
            "stray": stray,
            "disconnects": self.disconnects - self.disconnects_at_start,
            "first_receive": self.first_receive,
            "last_receive": self.last_receive,
            "latencies_ms": [round(x * 1000, 3) for x in self.latencies],
            "cpu_seconds": round(time.process_time(), 3),
            "errors": self.errors[-3:],
        }

    async def close(self) -> None:
        for sock in self.sockets:
            if sock.task:
                sock.task.cancel()
            try:
                sock.writer.close()
            except Exception:  # noqa: BLE001, S110 - closing anyway
                pass


def _expected_count(first: int, end: int, users: int, user: int) -> int:
    start = first + ((user - first) % users)
    return 0 if start >= end else (end - 1 - start) // users + 1


def print_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main() -> None:
    config = json.loads(await asyncio.to_thread(sys.stdin.readline))
    client = Client(config)
    print_json(await client.connect_all())
    # Bounded: the parent sends quit; a closed stdin (parent gone) ends the process too.
    for _ in range(100_000):
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        if command["cmd"] == "start":
            print_json(client.start_phase())
        elif command["cmd"] == "report":
            print_json(await client.report(command))
        elif command["cmd"] == "quit":
            break
    await client.close()


if __name__ == "__main__":
    asyncio.run(main())

"""A real SMTP server for tests (aiosmtpd, in a thread of the test process, on a free port of its own).

What it accepts is parsed with the standard ``email`` package, as a mail client would read it.
``refuse`` makes it answer DATA with a given reply instead ("451 4.3.0 try later", "550 5.7.1 no").
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller

from tests.support.processes import free_port, wait_until


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    # The bytes as they came over the wire (what a mail client's own parser would read).
    raw: bytes

    def part(self, content_type: str) -> str:
        """The text of the message's part of this type ("text/plain", "text/html")."""
        body = self.message.get_body(preferencelist=(content_type.split("/")[1],))
        assert body is not None and body.get_content_type() == content_type, f"no {content_type} part"
        return body.get_content()


class SmtpServer:
    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.refuse: str | None = None
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname=self.host, port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        if self.refuse:
            return self.refuse
        raw = envelope.original_content or envelope.content
        message = BytesParser(policy=policy.default).parsebytes(raw)
        with self._lock:
            self._received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, raw))
        return "250 OK: queued"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int, *, timeout: float) -> list[Received]:
        wait_until(lambda: len(self.received) >= count, timeout=timeout, what=f"{count} email(s) at the SMTP server")
        return self.received

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


@contextmanager
def smtp_server():
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()

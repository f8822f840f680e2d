"""A stand-in for the browsers' push services (FCM, Mozilla's autopush): a local HTTP server, and a test browser's keys.

The server takes Web Push requests (RFC 8030) as a push service does and answers each endpoint as the test
tells it to (201 by default). Decrypting a request's aes128gcm body (RFC 8291) needs the browser's private key
and auth secret, which only the test holds: a payload that decrypts proves the worker encrypted it to that
browser. ``verify_vapid`` checks the Authorization header (RFC 8292) against the site's public key.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class BrowserKeys:
    """What a browser keeps of its push subscription: a P-256 key pair and a 16-byte auth secret."""

    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    def subscription(self, endpoint: str) -> dict:
        """``PushSubscription.toJSON()`` as the browser would give it."""
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict:
        return json.loads(
            http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm")
        )


@dataclass
class PushRequest:
    """One POST as the push service got it; header names in lowercase."""

    path: str
    headers: dict[str, str]
    body: bytes


def verify_vapid(authorization: str, *, public_key: str, audience: str) -> dict:
    """The claims of a ``vapid t=<JWT>,k=<key>`` header, after checking its ES256 signature with ``public_key``."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid", authorization
    parts = dict(item.split("=", 1) for item in params.split(","))
    assert parts["k"] == public_key, "the header names another key than the site's"
    signed, _, signature = parts["t"].rpartition(".")
    raw = unb64url(signature)
    assert len(raw) == 64
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public_key))
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.verify(der, signed.encode("ascii"), ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature
    header, claims = (json.loads(unb64url(piece)) for piece in signed.split("."))
    assert header == {"typ": "JWT", "alg": "ES256"}
    assert claims["aud"] == audience
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    return claims


class PushService:
    """``with PushService() as service:`` a server on a free port; ``service.endpoint(name)`` a subscription's URL."""

    def __init__(self) -> None:
        self.requests: list[PushRequest] = []
        self._answers: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self._changed = threading.Condition()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with service._changed:
                    service.requests.append(
                        PushRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    queued = service._answers.get(self.path)
                    status, headers = queued.pop(0) if queued else (201, {})
                    service._changed.notify_all()
                self.send_response(status)
                if status == 201:
                    headers = {"Location": f"{self.path}/messages/{len(service.requests)}", **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args) -> None:  # noqa: A002 - http.server's name
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> PushService:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def endpoint(self, name: str) -> str:
        return f"{self.url}/push/{name}"

    def answer(self, name: str, *responses: int | tuple[int, dict[str, str]]) -> None:
        """The next answers to ``endpoint(name)``, in order (then 201): a status, or (status, headers)."""
        with self._changed:
            self._answers.setdefault(f"/push/{name}", []).extend(
                (r, {}) if isinstance(r, int) else r for r in responses
            )

    def received(self, name: str) -> list[PushRequest]:
        with self._changed:
            return [r for r in self.requests if r.path == f"/push/{name}"]

    def wait_for(self, name: str, count: int = 1, *, timeout: float = 30) -> list[PushRequest]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len([r for r in self.requests if r.path == f"/push/{name}"]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {count} push(es) to {name}")
                self._changed.wait(left)
        return self.received(name)

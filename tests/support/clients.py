"""Stand-ins for a browser: an HTTP session logged in to the web, and a socket.io client."""

from __future__ import annotations

import threading

import requests
import socketio

from herald_live import wire


class WebSession:
    """One logged-in browser session (one django-user-sessions row)."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "herald-tests"
        self.http.get(f"{base_url}/accounts/login/", timeout=10).raise_for_status()
        response = self.http.post(
            f"{base_url}/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": self.csrf},
            timeout=10,
            allow_redirects=False,
        )
        assert response.status_code == 302, f"login failed for {username}: {response.status_code}"

    @property
    def csrf(self) -> str:
        return self.http.cookies.get("csrftoken", "")

    @property
    def session_key(self) -> str:
        return self.http.cookies.get("sessionid", "")

    def post(self, path: str, data: dict | None = None) -> requests.Response:
        return self.http.post(
            f"{self.base_url}{path}",
            data={**(data or {}), "csrfmiddlewaretoken": self.csrf},
            headers={"Accept": "application/json", "X-CSRFToken": self.csrf},
            timeout=10,
            allow_redirects=False,
        )

    def get_json(self, path: str, **params) -> dict:
        response = self.http.get(
            f"{self.base_url}{path}", params=params, headers={"Accept": "application/json"}, timeout=10
        )
        response.raise_for_status()
        return response.json()

    def send(self, *, to: str = "", everyone: bool = False, message: str, level: str = "info") -> requests.Response:
        """The reference site's send form: one recipient by username, or everyone (a permission)."""
        data = {"recipient": to, "message": message, "level": level}
        if everyone:
            data["everyone"] = "on"
        return self.post("/notifications/send/", data)

    def token(self) -> str:
        return self.get_json("/herald/socket-token/")["token"]

    def logout(self) -> requests.Response:
        return self.post("/accounts/logout/")


class LiveSocket:
    """A socket.io client that records every envelope it receives."""

    def __init__(self, *, origin: str) -> None:
        # The Origin a browser on the site would send; the pusher checks it.
        self.client = socketio.Client(reconnection=False, websocket_extra_options={"origin": origin})
        self.envelopes: list[dict] = []
        self.disconnected = threading.Event()
        self._changed = threading.Condition()
        self.client.on(wire.SOCKET_EVENT, self._receive)
        self.client.on("disconnect", self._on_disconnect)

    def _receive(self, envelope: dict) -> None:
        with self._changed:
            self.envelopes.append(envelope)
            self._changed.notify_all()

    def _on_disconnect(self, *args) -> None:
        self.disconnected.set()

    def connect(self, url: str, token: object) -> LiveSocket:
        self.disconnected.clear()
        self.client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
        return self

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()

    def of_type(self, event_type: str) -> list[dict]:
        with self._changed:
            return [e["data"] for e in self.envelopes if e.get("type") == event_type]

    def wait_for(self, predicate, *, timeout: float = 10.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self), timeout=timeout):
                raise AssertionError(f"timed out; received {self.envelopes!r}")

    def created_ids(self) -> list[int]:
        return [n["id"] for n in self.of_type(wire.NOTIFICATION_CREATED)]

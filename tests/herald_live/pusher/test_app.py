"""The pusher as a real process, in both async modes: handshake auth, rooms, drops, health."""

from __future__ import annotations

import os
import secrets
import signal
import time

import pytest
import requests
import socketio

from herald_live import wire
from herald_live.infra import publisher
from tests.conftest import start_pusher
from tests.support.clients import LiveSocket
from tests.support.metrics import metric
from tests.support.processes import wait_until


@pytest.fixture(scope="module", params=["eventlet", "gevent"])
def pusher(request, system_env):
    service = start_pusher(system_env, request.param)
    service.origin = system_env["HERALD_ALLOWED_ORIGINS"].split(",")[0]
    service.mode = request.param
    yield service
    service.stop()


@pytest.fixture
def open_socket(pusher):
    opened: list[LiveSocket] = []

    def connect(token, *, origin: str | None = None) -> LiveSocket:
        socket = LiveSocket(origin=origin or pusher.origin)
        socket.connect(pusher.url, token)
        opened.append(socket)
        return socket

    yield connect
    for socket in opened:
        socket.close()


def token_for(session: str, *, secret: str | None = None, **kwargs) -> str:
    return wire.sign_token(secret=secret or os.environ["HERALD_TOKEN_SECRET"], session=session, user_id=1, **kwargs)


def new_session() -> str:
    return wire.session_digest(secrets.token_hex(16))


def test_health_reports_redis_and_the_subscription_before_any_socket(pusher):
    def health() -> dict | None:
        body = requests.get(f"{pusher.url}/healthz", timeout=5).json()
        return body if body.get("subscribed") else None

    body = wait_until(health, timeout=10, what="the pusher to subscribe")
    assert body == {"status": "ok", "redis": "up", "subscribed": True}
    assert "# TYPE herald_pusher_sockets gauge" in requests.get(pusher.metrics_url, timeout=5).text
    # Metrics have a listener of their own, on localhost: the public port does not serve them.
    assert requests.get(f"{pusher.url}/metrics", timeout=5).status_code == 404


@pytest.mark.parametrize(
    "token",
    [
        None,
        "",
        "not-a-token",
        {"nested": "object"},
        "v1.e30.AAAA",
        pytest.param("forged", id="forged"),
        pytest.param("expired", id="expired"),
        pytest.param("other-secret", id="other-secret"),
    ],
)
def test_sockets_without_valid_proof_are_refused(open_socket, token):
    if token == "forged":
        prefix, body, _ = token_for(new_session()).split(".")
        token = f"{prefix}.{body}.{wire.b64url_encode(b'x' * 32)}"
    elif token == "expired":
        token = token_for(new_session(), now=time.time() - 3600)
    elif token == "other-secret":
        token = token_for(new_session(), secret="z" * 48)

    with pytest.raises(socketio.exceptions.ConnectionError):
        open_socket(token)


def test_a_socket_from_a_foreign_origin_is_refused(open_socket):
    with pytest.raises(socketio.exceptions.ConnectionError):
        open_socket(token_for(new_session()), origin="http://evil.example")


def test_a_socket_receives_only_what_is_published_to_its_sessions_room(open_socket):
    mine, theirs = new_session(), new_session()
    socket = open_socket(token_for(mine))

    publisher.emit_to_rooms(rooms=[wire.session_room(theirs)], payload=wire.notification_created({"id": 1}))
    publisher.emit_to_rooms(rooms=[wire.session_room(mine)], payload=wire.notification_created({"id": 2}))

    socket.wait_for(lambda s: s.created_ids() == [2])
    # Sockets cannot pick rooms: a client asking to join another room changes nothing.
    socket.client.emit("join", {"room": wire.session_room(theirs)})
    publisher.emit_to_rooms(rooms=[wire.session_room(theirs)], payload=wire.notification_created({"id": 3}))
    publisher.emit_to_rooms(rooms=[wire.session_room(mine)], payload=wire.notification_created({"id": 4}))
    socket.wait_for(lambda s: s.created_ids() == [2, 4])


def test_dropping_a_session_disconnects_its_sockets_and_no_other(open_socket):
    dropped, kept = new_session(), new_session()
    first, second, other = (
        open_socket(token_for(dropped)),
        open_socket(token_for(dropped)),
        open_socket(token_for(kept)),
    )

    publisher.drop_rooms(rooms=[wire.session_room(dropped)])

    assert first.disconnected.wait(10) and second.disconnected.wait(10)
    publisher.emit_to_rooms(rooms=[wire.session_room(kept)], payload=wire.notification_created({"id": 9}))
    other.wait_for(lambda s: s.created_ids() == [9])
    assert other.client.connected


def test_a_token_of_a_dropped_session_cannot_open_a_socket_afterwards(open_socket):
    dropped, other = new_session(), new_session()
    signed_before = token_for(dropped)
    socket = open_socket(signed_before)

    publisher.drop_rooms(rooms=[wire.session_room(dropped)])
    assert socket.disconnected.wait(10)

    # A page that kept its token (or fetched one just before the logout) gets no socket on the dead session.
    with pytest.raises(socketio.exceptions.ConnectionError):
        open_socket(signed_before)
    with pytest.raises(socketio.exceptions.ConnectionError):
        open_socket(token_for(dropped))
    assert open_socket(token_for(other)).client.connected


def test_metrics_count_sockets_deliveries_refusals_and_latency(pusher, open_socket):
    def scrape() -> str:
        return requests.get(pusher.metrics_url, timeout=5).text

    before = scrape()
    mine = new_session()
    socket = open_socket(token_for(mine))
    with pytest.raises(socketio.exceptions.ConnectionError):
        open_socket(token_for(new_session(), secret="z" * 48))
    publisher.emit_to_rooms(rooms=[wire.session_room(mine)], payload=wire.notification_created({"id": 5}))
    socket.wait_for(lambda s: s.created_ids() == [5])

    after = scrape()
    assert metric(after, "herald_pusher_sockets") >= 1
    assert metric(after, "herald_pusher_deliveries_total") >= metric(before, "herald_pusher_deliveries_total") + 1
    assert metric(after, "herald_pusher_publish_to_emit_seconds_count") >= 1
    assert metric(after, "herald_pusher_sockets_refused_total", reason="bad signature") >= 1
    assert "# TYPE herald_pusher_gc_pause_seconds histogram" in after


def test_sigterm_drains_every_socket_and_exits(system_env, pusher):
    service = start_pusher(system_env, pusher.mode)
    try:
        sockets = [LiveSocket(origin=pusher.origin).connect(service.url, token_for(new_session())) for _ in range(3)]

        service.process.send_signal(signal.SIGTERM)

        for socket in sockets:
            assert socket.disconnected.wait(10), "a socket was left open"
        assert service.process.wait(timeout=10) == 0
        assert "pusher drained sockets=3" in service.log()
    finally:
        service.stop()


@pytest.mark.parametrize(
    ("token", "reason", "setting"),
    [
        ("other-secret", "bad signature", "HERALD_TOKEN_SECRET"),
        ("expired", "expired token", "HERALD_TOKEN_TTL_SECONDS"),
    ],
)
def test_a_refused_token_is_told_why_and_what_to_fix(pusher, token, reason, setting):
    """The page's console shows it (offline.js): the setting to fix, never anything secret."""
    if token == "other-secret":
        token = token_for(new_session(), secret="z" * 48)
    else:
        token = token_for(new_session(), now=time.time() - 3600)
    client = socketio.Client(reconnection=False, websocket_extra_options={"origin": pusher.origin})
    refusals: list = []
    client.on("connect_error", refusals.append)

    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(pusher.url, auth={"token": token}, transports=["websocket"], wait_timeout=10)

    ((message, data),) = [(item["message"], item.get("data")) for item in refusals]
    assert message == "unauthorized"
    assert data["reason"] == reason and setting in data["fix"]
    assert "z" * 48 not in str(data)

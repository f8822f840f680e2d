"""A pusher as a real process against clients that misbehave: refused, silent, crowding, forging handlers' names.

Raw Engine.IO websockets stand in for such clients: a well-behaved socket.io client hides exactly what they do.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import time

import pytest
import requests
import websocket

from herald_live import wire
from herald_live.pusher import guard
from tests.conftest import start_pusher
from tests.support.metrics import metric
from tests.support.processes import wait_until

MAX_PENDING = 5


@pytest.fixture(scope="module", params=["eventlet", "gevent"])
def pusher(request, system_env):
    env = {
        **system_env,
        "HERALD_PUSHER_AUTH_TIMEOUT_SECONDS": "2",
        "HERALD_PUSHER_MAX_PENDING_PER_ADDRESS": str(MAX_PENDING),
    }
    service = start_pusher(env, request.param)
    service.origin = system_env["HERALD_ALLOWED_ORIGINS"].split(",")[0]
    yield service
    service.stop()


@pytest.fixture
def transports(pusher):
    """Opens raw Engine.IO websockets to the pusher; every one is closed after the test."""
    opened: list[websocket.WebSocket] = []

    def open_one() -> websocket.WebSocket:
        url = pusher.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        ws = websocket.create_connection(url, origin=pusher.origin, timeout=10)
        opened.append(ws)
        assert ws.recv().startswith("0{")  # Engine.IO's open packet
        return ws

    yield open_one
    for ws in opened:
        ws.close()


def token() -> str:
    session = wire.session_digest(secrets.token_hex(16))
    return wire.sign_token(secret=os.environ["HERALD_TOKEN_SECRET"], session=session, user_id=1)


def closed_by_server(ws: websocket.WebSocket, *, within: float) -> bool:
    """True when the server closes the transport within that time (pings and other packets are read past)."""
    ws.settimeout(within)
    try:
        while True:
            if ws.recv() in ("", None):
                return True
    except websocket.WebSocketConnectionClosedException:
        return True
    except websocket.WebSocketTimeoutException:
        return False


def scrape(pusher) -> str:
    return requests.get(pusher.metrics_url, timeout=5).text


def test_a_refused_transport_is_closed_at_once(transports):
    ws = transports()
    ws.send("40" + json.dumps({"token": "not-a-token"}))
    assert ws.recv().startswith("44")  # CONNECT_ERROR: the client learns why
    assert closed_by_server(ws, within=3)


def test_a_transport_that_never_authenticates_is_closed(pusher, transports):
    before = scrape(pusher)
    ws = transports()
    assert closed_by_server(ws, within=10)
    assert metric(scrape(pusher), "herald_pusher_unauthenticated_closed_total") >= (
        metric(before, "herald_pusher_unauthenticated_closed_total") + 1
    )


def test_clients_that_never_answer_the_close_still_give_their_descriptors_back(pusher):
    def descriptors() -> int:
        return len(os.listdir(f"/proc/{pusher.process.pid}/fd"))

    wait_until(lambda: "herald_pusher_sockets" in scrape(pusher), timeout=5, what="metrics")
    url = pusher.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    # Opened and then never read again: the server's closing frame is never answered.
    silent = [websocket.create_connection(url, origin=pusher.origin, timeout=10) for _ in range(MAX_PENDING)]
    try:
        held = descriptors()  # one per transport, and whatever else the process has open now
        wait_until(
            lambda: descriptors() <= held - MAX_PENDING, timeout=15, what="the pusher to close every silent transport"
        )
    finally:
        for ws in silent:
            ws.close()


def test_a_long_polling_client_that_never_polls_again_does_not_stop_the_guard(pusher, transports):
    handshake = requests.get(
        f"{pusher.url}/socket.io/?EIO=4&transport=polling", headers={"Origin": pusher.origin}, timeout=5
    )
    assert handshake.status_code == 200 and handshake.text.startswith("0{")
    time.sleep(3)  # past the auth timeout (2 s): the guard closes it while nobody reads its close

    # The guard still works: a silent websocket opened afterwards is closed too.
    assert closed_by_server(transports(), within=10)


def test_one_address_holds_a_bounded_number_of_unauthenticated_transports(pusher, transports):
    wait_until(lambda: "herald_pusher_sockets" in scrape(pusher), timeout=5, what="metrics")
    crowd = [transports() for _ in range(MAX_PENDING)]
    with pytest.raises(websocket.WebSocketBadStatusException):
        transports()
    # One that authenticates frees its place at once.
    crowd[0].send("40" + json.dumps({"token": token()}))
    assert crowd[0].recv().startswith("40{")
    transports()


def test_events_a_client_sends_run_nothing_and_move_no_metric(pusher, transports):
    ws = transports()
    ws.send("40" + json.dumps({"token": token()}))
    assert ws.recv().startswith("40{")
    sockets = metric(scrape(pusher), "herald_pusher_sockets")
    log_mark = len(pusher.log())

    for forged in ('42["connect",{"token":"x"}]', '42["disconnect"]', '42["disconnect","x"]', '42["join","r"]'):
        ws.send(forged)
    ws.send("3")  # a pong, so that the connection shows it is still served
    assert not closed_by_server(ws, within=1)
    assert metric(scrape(pusher), "herald_pusher_sockets") == sockets
    assert "Traceback" not in pusher.log()[log_mark:]


@pytest.mark.parametrize("packet", ["42[", "4x", "49"])
def test_a_malformed_packet_closes_its_transport_with_one_line(pusher, transports, packet):
    ws = transports()
    ws.send("40" + json.dumps({"token": token()}))
    assert ws.recv().startswith("40{")
    log_mark = len(pusher.log())

    ws.send(packet)

    assert closed_by_server(ws, within=3)
    logged = pusher.log()[log_mark:]
    assert "Traceback" not in logged
    assert logged.count("malformed packet") == 1


@pytest.mark.parametrize(
    ("environ", "address"),
    [
        ({"REMOTE_ADDR": "203.0.113.9"}, "203.0.113.9"),
        # Only a trusted proxy may name the client; anyone else's header is ignored.
        ({"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}, "203.0.113.9"),
        ({"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}, "198.51.100.1"),
        # The proxy appends the peer it saw: what the client wrote before it is not believed.
        ({"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "10.9.9.9, 198.51.100.1"}, "198.51.100.1"),
        ({"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "garbage"}, "127.0.0.1"),
        ({"REMOTE_ADDR": "127.0.0.1"}, "127.0.0.1"),
        # A network names every proxy in it (compose: nginx on the private network).
        ({"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}, "198.51.100.1"),
        # A load balancer in front of nginx, both trusted: the client, not the balancer every client comes through.
        ({"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.1, 10.0.0.5"}, "198.51.100.1"),
        ({"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 198.51.100.1, 10.0.0.5"}, "198.51.100.1"),
    ],
)
def test_the_client_address_comes_from_a_trusted_proxy_only(environ, address):
    trusted = (ipaddress.ip_network("127.0.0.1"), ipaddress.ip_network("10.0.0.0/8"))
    assert guard.client_address(environ, trusted_proxies=trusted) == address

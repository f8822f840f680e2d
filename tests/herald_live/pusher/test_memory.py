"""A pusher keeps nothing of a socket once it is gone: what it holds follows the sockets connected, not churn.

The pusher freezes long-lived objects so that full collections stay rare and short (gc_tuning.py); anything a
closed connection left in a reference cycle would then stay frozen. So the frozen-object count, read from the
metrics after rounds of sockets that connect and close, must stay flat. (Before: about thirty objects and an
8 kB buffer per connection, from the WSGI server's handler and engineio's per-socket ping task.)
"""

from __future__ import annotations

import json
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import websocket

from herald_live import wire
from tests.conftest import start_pusher
from tests.support.metrics import metric

SOCKETS = 200
ROUNDS = 5


@pytest.fixture(scope="module")
def pusher(system_env):
    env = {**system_env, "HERALD_PUSHER_MAX_PENDING_PER_ADDRESS": str(SOCKETS * 2)}
    service = start_pusher(env, "eventlet")  # the default async mode
    service.origin = system_env["HERALD_ALLOWED_ORIGINS"].split(",")[0]
    yield service
    service.stop()


def connect(pusher) -> websocket.WebSocket:
    url = pusher.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    ws = websocket.create_connection(url, origin=pusher.origin, timeout=10)
    ws.recv()
    session = wire.session_digest(secrets.token_hex(16))
    ws.send(
        "40"
        + json.dumps({"token": wire.sign_token(secret=os.environ["HERALD_TOKEN_SECRET"], session=session, user_id=1)})
    )
    assert ws.recv().startswith("40{")
    return ws


def frozen(pusher) -> float:
    return metric(requests.get(pusher.metrics_url, timeout=5).text, "herald_pusher_gc_frozen_objects")


def test_sockets_that_connect_and_close_leave_nothing_behind(pusher):
    after_round = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(ROUNDS):
            opened = list(pool.map(lambda _: connect(pusher), range(SOCKETS)))
            time.sleep(2.5)  # long enough to be frozen (every second) while connected
            list(pool.map(lambda ws: ws.close(), opened))
            time.sleep(2.5)  # closed, and another freeze
            after_round.append(frozen(pusher))

    # The first round warms caches (imports, pools); after it, nothing may grow with the sockets that came and went.
    # A leak grows the count in every round; a one-off step (something of the process's own frozen once, such as
    # its first presence refresh) in one round only: the median round tells them apart.
    deltas = sorted(after - before for before, after in zip(after_round[1:], after_round[2:], strict=False))
    growth_per_connection = deltas[len(deltas) // 2] / SOCKETS
    assert growth_per_connection < 1, after_round

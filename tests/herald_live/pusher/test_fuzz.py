"""Hypothesis against the socket handshake: whatever the client sends, no valid proof, no socket."""

from __future__ import annotations

import os
import secrets

import pytest
import requests
import socketio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from herald_live import wire
from tests.conftest import start_pusher
from tests.support.clients import LiveSocket

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=60),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def pusher(system_env):
    service = start_pusher(system_env, "eventlet")
    service.origin = system_env["HERALD_ALLOWED_ORIGINS"].split(",")[0]
    yield service
    service.stop()


def valid_token() -> str:
    return wire.sign_token(
        secret=os.environ["HERALD_TOKEN_SECRET"], session=wire.session_digest(secrets.token_hex(8)), user_id=1
    )


def refused(pusher, auth) -> bool:
    client = socketio.Client(reconnection=False, websocket_extra_options={"origin": pusher.origin})
    try:
        client.connect(pusher.url, auth=auth, transports=["websocket"], wait_timeout=5)
    except socketio.exceptions.ConnectionError:
        return True
    client.disconnect()
    return False


FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(auth=st.one_of(JSON_VALUES, st.dictionaries(st.just("token"), JSON_VALUES, min_size=1)))
def test_any_payload_without_a_signed_token_is_refused(pusher, auth):
    assert refused(pusher, auth)


@FUZZ
@given(data=st.data())
def test_any_altered_token_is_refused(pusher, data):
    token = valid_token()
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.characters(codec="ascii").filter(lambda c: c != token[position]))
    altered = token[:position] + replacement + token[position + 1 :]
    # The last base64 character may carry padding bits only; such an edit changes nothing.
    if position == len(token) - 1:
        return

    assert refused(pusher, {"token": altered})


def test_the_pusher_is_still_healthy_and_serving_after_the_fuzz(pusher):
    assert requests.get(f"{pusher.url}/healthz", timeout=5).status_code == 200
    socket = LiveSocket(origin=pusher.origin).connect(pusher.url, valid_token())
    assert socket.client.connected
    socket.close()

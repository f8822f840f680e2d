"""Presence for web push: the pusher keeps the sessions it has sockets for in a Redis sorted set.

The bookkeeping against the real Redis, then real pusher processes (both async modes) with real sockets:
a socket makes its session present, its close removes it, a killed pusher's entries expire and a pusher
stopped with SIGTERM removes its own at once. Workers read the set with ``herald_live.infra.presence.live_users``,
which these tests use to say "live" as the fan-out would.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import time
import uuid

import pytest
import redis
import requests

from herald_live import wire
from herald_live.infra import presence
from herald_live.pusher.presence import Presence
from tests.conftest import start_pusher
from tests.support.clients import LiveSocket
from tests.support.metrics import metric
from tests.support.processes import free_port, wait_until

SECONDS = 3  # HERALD_PUSHER_PRESENCE_SECONDS of the pushers started here: renewed every second


@pytest.fixture
def key(redis_client):
    name = f"{os.environ['HERALD_BROKER_KEY_PREFIX']}presence-{uuid.uuid4().hex[:8]}"
    yield name
    redis_client.delete(name)


class Clocks:
    """The wall clock the scores are written with and the monotonic one renewals are timed with."""

    def __init__(self) -> None:
        self.wall, self.mono = 1_000_000.0, 0.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def presence_of(client, key: str, clocks: Clocks, seconds: int = 90) -> Presence:
    return Presence(client, key=key, seconds=seconds, clock=lambda: clocks.wall, monotonic=lambda: clocks.mono)


def scores(redis_client, key: str) -> dict[str, float]:
    return {member.decode(): score for member, score in redis_client.zrange(key, 0, -1, withscores=True)}


def test_a_session_is_present_from_its_first_socket_until_its_last_leaves(redis_client, key):
    clocks = Clocks()
    present = presence_of(redis_client, key, clocks)
    present.joined(sid="tab-1", session="s1")
    present.joined(sid="tab-2", session="s1")
    present.joined(sid="phone", session="s2")

    assert present.write()
    assert scores(redis_client, key) == {"s1": clocks.wall + 90, "s2": clocks.wall + 90}

    present.left("tab-1")
    present.left("never-joined")  # a disconnect the pusher never authenticated: nothing to do
    assert present.write()
    assert set(scores(redis_client, key)) == {"s1", "s2"}  # its other socket is still here

    present.left("tab-2")
    assert present.write()
    assert set(scores(redis_client, key)) == {"s2"}


def test_every_session_is_renewed_every_third_of_the_lifetime_and_expired_ones_are_trimmed(redis_client, key):
    clocks = Clocks()
    present = presence_of(redis_client, key, clocks)
    redis_client.zadd(key, {"of-a-dead-pusher": clocks.wall + 10})
    present.joined(sid="a", session="s1")
    assert present.write()
    first = clocks.wall + 90

    clocks.advance(20)  # not due yet: nothing changed, nothing written
    assert present.write()
    assert scores(redis_client, key) == {"s1": first, "of-a-dead-pusher": clocks.wall - 10}

    clocks.advance(11)
    assert present.write()
    assert scores(redis_client, key) == {"s1": clocks.wall + 90}
    assert 0 < redis_client.ttl(key) <= 90  # the set itself goes when no pusher renews it


def test_two_pushers_holding_one_session_keep_the_later_deadline(redis_client, key):
    earlier, later = Clocks(), Clocks()
    later.advance(30)
    first, second = presence_of(redis_client, key, later), presence_of(redis_client, key, earlier)  # one per pusher
    first.joined(sid="a", session="s1")
    second.joined(sid="b", session="s1")

    assert first.write() and second.write()
    assert scores(redis_client, key) == {"s1": later.wall + 90}


def test_redis_not_answering_costs_a_warning_per_period_and_what_changed_is_written_when_it_answers(
    redis_client, key, caplog
):
    clocks = Clocks()
    present = presence_of(redis_client, key, clocks)
    for sid, session in (("a", "stays"), ("b", "leaves")):
        present.joined(sid=sid, session=session)
    assert present.write()

    present.client = redis.Redis(port=free_port(), socket_connect_timeout=0.5)  # nothing listens there
    present.left("b")
    present.joined(sid="c", session="arrives")
    with caplog.at_level(logging.WARNING, logger="herald.pusher"):
        assert not present.write()
        clocks.advance(1)
        assert not present.write()
        assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
        clocks.advance(30)
        assert not present.write()
        assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2

    present.client = redis_client
    with caplog.at_level(logging.INFO, logger="herald.pusher"):
        assert present.write()
    assert scores(redis_client, key) == {"stays": clocks.wall + 90, "arrives": clocks.wall + 90}
    assert "presence written again sessions=2" in caplog.text


# --- Real pusher processes ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["eventlet", "gevent"])
def mode(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def presence_env(system_env) -> dict[str, str]:
    return {**system_env, "HERALD_PUSHER_PRESENCE_SECONDS": str(SECONDS)}


@pytest.fixture(scope="module")
def pusher(presence_env, mode):
    service = start_pusher(presence_env, mode)
    yield service
    service.stop()


@pytest.fixture
def open_socket(system_env):
    opened: list[LiveSocket] = []

    def connect(service, session: str) -> LiveSocket:
        socket = LiveSocket(origin=system_env["HERALD_ALLOWED_ORIGINS"].split(",")[0])
        token = wire.sign_token(secret=os.environ["HERALD_TOKEN_SECRET"], session=session, user_id=1)
        opened.append(socket.connect(service.url, token))
        return socket

    yield connect
    for socket in opened:
        socket.close()


def new_session() -> str:
    return wire.session_digest(secrets.token_hex(16))


def score(redis_client, session: str) -> float | None:
    return redis_client.zscore(wire.presence_key(os.environ["HERALD_CHANNEL_PREFIX"]), session)


def live(session: str) -> bool:
    """What a worker's fan-out concludes about a user whose one session this is."""
    return presence.live_users(rooms_by_user={7: [wire.session_room(session)]}) == {7}


def test_a_socket_makes_its_session_live_until_its_last_socket_closes(pusher, open_socket, redis_client):
    session = new_session()
    first = open_socket(pusher, session)
    wait_until(lambda: live(session), timeout=5, what="the pusher to report the session")
    assert time.time() < score(redis_client, session) <= time.time() + SECONDS + 1
    assert metric(requests.get(pusher.metrics_url, timeout=5).text, "herald_pusher_presence_sessions") >= 1
    second = open_socket(pusher, session)

    first.close()
    time.sleep(1.5)  # several writes and a renewal later: its other socket keeps the session live
    assert live(session)

    second.close()
    wait_until(lambda: score(redis_client, session) is None, timeout=2, what="the session to be removed")
    assert not live(session)


def test_the_sessions_of_a_killed_pusher_expire_and_are_trimmed_by_another(
    presence_env, mode, pusher, open_socket, redis_client
):
    doomed = start_pusher(presence_env, mode)
    try:
        session = new_session()
        open_socket(doomed, session)
        wait_until(lambda: live(session), timeout=5, what="the pusher to report the session")

        doomed.stop(signal.SIGKILL)  # no disconnect, no cleanup: its entry stays
        killed_at = time.time()
        assert score(redis_client, session) is not None

        wait_until(lambda: not live(session), timeout=SECONDS + 2, what="the entry to expire")
        assert time.time() - killed_at <= SECONDS + 1
        # The pusher still running renews its own every second and trims what expired.
        wait_until(lambda: score(redis_client, session) is None, timeout=3, what="the entry to be trimmed")
    finally:
        doomed.stop()


def test_sigterm_removes_the_pushers_sessions_at_once(system_env, mode, open_socket, redis_client):
    # A lifetime of a minute: what goes in the seconds after SIGTERM was removed, not left to expire.
    stopping = start_pusher({**system_env, "HERALD_PUSHER_PRESENCE_SECONDS": "60"}, mode)
    try:
        sessions = [new_session() for _ in range(3)]
        for session in sessions:
            open_socket(stopping, session)
        wait_until(lambda: all(live(s) for s in sessions), timeout=5, what="the pusher to report its sessions")

        stopping.process.send_signal(signal.SIGTERM)

        assert stopping.process.wait(timeout=10) == 0
        assert [score(redis_client, session) for session in sessions] == [None, None, None]
    finally:
        stopping.stop()

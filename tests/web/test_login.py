"""The site's login is throttled per account and per client address (web/login.py), against the real Redis."""

from __future__ import annotations

import logging
import time

import pytest
import redis

from herald_live.conf import app_settings
from herald_live.infra import ratelimit
from tests.support import processes
from web import login

pytestmark = pytest.mark.django_db

HERE, ELSEWHERE = "203.0.113.7", "198.51.100.9"


@pytest.fixture(autouse=True)
def counters(redis_client):
    """This test's failure counts, removed after it (other tests log in from the same addresses)."""

    def keys(kind: str = "login-failures") -> list[bytes]:
        return list(redis_client.scan_iter(match=f"{app_settings.CHANNEL_PREFIX}:{kind}:*"))

    for key in keys() + keys("login-networks"):
        redis_client.delete(key)
    yield keys
    for key in keys() + keys("login-networks"):
        redis_client.delete(key)


def attempt(client, username: str, password: str, *, ip: str = HERE):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_twenty_wrong_passwords_get_five_answers_then_429_even_for_the_right_one(client, alice, counters, caplog):
    statuses = [attempt(client, "alice", f"wrong-{i}").status_code for i in range(20)]

    assert statuses == [200] * 5 + [429] * 15  # HERALD_LOGIN_FAILURES_PER_ACCOUNT defaults to 5
    right = attempt(client, "alice", "pw-alice-123")
    assert right.status_code == 429 and not logged_in(client)
    page = right.content.decode()
    assert "Too many failed logins for this account" in page and "didn&#x27;t match" not in page
    assert 0 < int(right["Retry-After"]) <= 301
    assert 'value="alice"' in page  # the form comes back, with the username typed
    # Each count lives for one window at most: nobody is locked out for longer.
    ttls = [ratelimit.client().ttl(key) for key in counters()]
    assert ttls and all(0 < ttl <= 301 for ttl in ttls), ttls
    # Nothing identifying in the log.
    assert "alice" not in caplog.text and HERE not in caplog.text


def test_the_right_password_works_again_when_the_window_ends(client, alice, settings, monkeypatch):
    settings.HERALD_LOGIN_WINDOW_SECONDS = 60
    for i in range(5):
        attempt(client, "alice", f"wrong-{i}")
    assert attempt(client, "alice", "pw-alice-123").status_code == 429

    later = time.time() + 61
    monkeypatch.setattr(login.time, "time", lambda: later)
    assert attempt(client, "alice", "pw-alice-123").status_code == 302
    assert logged_in(client)


def test_failures_from_one_network_refuse_that_username_there_only_and_ignore_case(client, alice, bob):
    for i in range(5):
        attempt(client, "alice" if i % 2 else "ALICE", "wrong")

    refused = attempt(client, "alice", "pw-alice-123")
    assert refused.status_code == 429 and "for this account from your network" in refused.content.decode()
    # Someone guessing alice's password from elsewhere cannot lock her out where she is.
    assert attempt(client, "alice", "pw-alice-123", ip=ELSEWHERE).status_code == 302
    client.logout()
    # Another account from the same address is untouched.
    assert attempt(client, "bob", "pw-bob-123").status_code == 302


def test_a_guess_spread_over_networks_refuses_new_networks_but_not_where_the_owner_logged_in(client, alice, settings):
    settings.HERALD_LOGIN_FAILURES_PER_ACCOUNT_TOTAL = 4
    assert attempt(client, "alice", "pw-alice-123", ip=HERE).status_code == 302  # her usual network
    client.logout()
    for i in range(4):
        assert attempt(client, "alice", "wrong", ip=f"192.0.2.{i + 1}").status_code == 200

    refused = attempt(client, "alice", "pw-alice-123", ip="192.0.2.99")
    assert refused.status_code == 429 and "for this account. Wait" in refused.content.decode()
    assert attempt(client, "alice", "pw-alice-123", ip=HERE).status_code == 302


def test_refused_attempts_from_one_network_do_not_add_up_to_the_accounts_total(client, alice, settings):
    """Else one network's cheap 429s would pass the total and refuse the owner everywhere new."""
    settings.HERALD_LOGIN_FAILURES_PER_ACCOUNT_TOTAL = 8
    statuses = [attempt(client, "alice", "wrong").status_code for _ in range(20)]
    assert statuses == [200] * 5 + [429] * 15

    assert attempt(client, "alice", "pw-alice-123", ip="192.0.2.77").status_code == 302


def test_attempts_are_counted_before_the_password_is_checked(alice, settings):
    """Requests sent at once: each is counted before any is checked, so no burst gets past the limit."""
    settings.HERALD_LOGIN_FAILURES_PER_ACCOUNT = 2
    burst = login.attempt_of(username="alice", remote_addr=HERE)
    now = time.time()
    verdicts = [login.reserve(attempt=burst, now=now)[1] for _ in range(3)]  # none has failed or succeeded yet

    assert verdicts[:2] == [None, None] and verdicts[2][0] == "account"
    # A success gives its count back: only failures count.
    bob = login.attempt_of(username="bob", remote_addr=HERE)
    keys, _ = login.reserve(attempt=bob, now=now)
    counted = [int(ratelimit.client().get(key)) for key in keys]
    login.release(keys=keys)
    assert [int(ratelimit.client().get(key)) for key in keys] == [count - 1 for count in counted]
    assert counted[0] == 1 and counted[1] == 4  # bob's own count; the network's counts alice's three too


def test_many_accounts_from_one_address_are_refused_after_the_address_limit(client, alice, settings):
    settings.HERALD_LOGIN_FAILURES_PER_IP = 4
    for i in range(4):
        assert attempt(client, f"guess-{i}", "wrong").status_code == 200

    refused = attempt(client, "alice", "pw-alice-123")
    assert refused.status_code == 429 and "from your network" in refused.content.decode()
    assert attempt(client, "alice", "pw-alice-123", ip=ELSEWHERE).status_code == 302


def test_an_ipv6_client_is_counted_by_its_64(client, alice, settings):
    settings.HERALD_LOGIN_FAILURES_PER_IP = 2
    attempt(client, "guess-a", "wrong", ip="2001:db8:1:2::10")
    attempt(client, "guess-b", "wrong", ip="2001:db8:1:2:ffff::1")

    assert attempt(client, "alice", "pw-alice-123", ip="2001:db8:1:2::99").status_code == 429
    assert attempt(client, "alice", "pw-alice-123", ip="2001:db8:1:3::1").status_code == 302


def test_successful_logins_and_empty_forms_count_for_nothing(client, alice, settings):
    settings.HERALD_LOGIN_FAILURES_PER_IP = 2
    settings.HERALD_LOGIN_FAILURES_PER_ACCOUNT = 2
    for _ in range(5):
        assert attempt(client, "alice", "pw-alice-123").status_code == 302
        client.logout()
        assert attempt(client, "alice", "").status_code == 200

    assert attempt(client, "alice", "pw-alice-123").status_code == 302


def test_redis_down_leaves_the_login_working_with_a_warning(client, alice, monkeypatch, caplog):
    dead = redis.Redis(port=processes.free_port(), socket_connect_timeout=1, socket_timeout=1)
    monkeypatch.setattr(ratelimit, "client", lambda: dead)

    with caplog.at_level(logging.WARNING, logger="web.login"):
        assert attempt(client, "alice", "wrong").status_code == 200
        assert attempt(client, "alice", "pw-alice-123").status_code == 302

    assert caplog.text.count("login throttle unavailable") == 2

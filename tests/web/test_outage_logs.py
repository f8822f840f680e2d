"""During an outage every refused request is one line in the web's log, never a traceback (web/errors.py).

Before, each 503 logged Django's traceback: 117 of them in 20 s of a Redis outage buried everything else.
"""

from __future__ import annotations

import logging
import sys

import pytest
import redis
import requests
from django.db import OperationalError

from tests.support import processes
from tests.support.clients import WebSession
from web.errors import OneLinePerOutage

pytestmark = pytest.mark.usefixtures("committed")

REQUESTS = 8


def start_gunicorn(env: dict[str, str]) -> tuple[processes.Service, str]:
    port = processes.free_port()
    web = processes.gunicorn_web(env, port=port).start()
    url = f"http://127.0.0.1:{port}"
    try:
        web.wait_for_http(f"{url}/accounts/login/")  # needs neither the database nor Redis
    except BaseException:
        web.stop()
        raise
    return web, url


def lines_with(log: str, text: str) -> list[str]:
    return [line for line in log.splitlines() if text in line]


def test_redis_down_logs_one_warning_per_refused_send_and_no_traceback(system_env, make_user):
    dead = f"redis://127.0.0.1:{processes.free_port()}/0"
    web, url = start_gunicorn({**system_env, "REDIS_URL": dead, "CELERY_BROKER_URL": dead})
    try:
        alice, bob = make_user("alice"), make_user("bob")
        tab = WebSession(url, bob.username, bob.raw_password)  # the database is up: logging in works
        before = len(web.log())
        statuses = [tab.send(to=alice.username, message=f"during the outage {i}").status_code for i in range(REQUESTS)]
    finally:
        web.stop()

    assert statuses == [503] * REQUESTS
    log = web.log()[before:]
    refused = lines_with(log, "POST /notifications/send/")
    assert len(refused) == REQUESTS, log
    for line in refused:
        assert " WARNING django.request 503 POST /notifications/send/: Redis unavailable (" in line, line
    assert "Traceback" not in web.log()


def test_the_database_down_logs_one_warning_per_refused_page_and_no_traceback(system_env):
    env = {**system_env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{processes.free_port()}/nowhere"}
    web, url = start_gunicorn(env)
    try:
        before = len(web.log())
        # A visitor with a session: reading it needs the database.
        statuses = [
            requests.get(f"{url}/", cookies={"sessionid": "s" * 32}, timeout=10).status_code for _ in range(REQUESTS)
        ]
    finally:
        web.stop()

    assert statuses == [503] * REQUESTS
    log = web.log()[before:]
    refused = lines_with(log, "GET /:")
    assert len(refused) == REQUESTS, log
    for line in refused:
        assert " WARNING django.request 503 GET /: database unavailable (OperationalError" in line, line
    assert "Traceback" not in web.log()


def record_of(exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except type(exc):
        info = sys.exc_info()
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "%s: %s", ("Error", "/x"), info)
    record.status_code = 503
    return record


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (
            redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379.\nsecond line"),
            "Redis unavailable (ConnectionError: Error 111",
        ),
        (OperationalError("connection refused"), "database unavailable (OperationalError: connection refused)"),
    ],
)
def test_an_expected_outage_becomes_one_warning_line(exc, cause):
    record = record_of(exc)
    assert OneLinePerOutage().filter(record) is True

    assert record.levelno == logging.WARNING and record.exc_info is None
    assert cause in record.getMessage() and "\n" not in record.getMessage()


def test_an_unexpected_error_keeps_its_traceback():
    record = record_of(ValueError("a bug"))
    assert OneLinePerOutage().filter(record) is True

    assert record.levelno == logging.ERROR and record.exc_info[0] is ValueError
    assert record.getMessage() == "Error: /x"

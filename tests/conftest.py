from __future__ import annotations

import os
import uuid

import pytest
import redis
from django.contrib.auth import get_user_model
from django.db import connections

from herald_live.infra import health
from tests.support import processes
from tests.support.browser import chromium
from tests.support.smtp import smtp_server
from web.database_url import database_url_of


@pytest.fixture(scope="session")
def redis_client():
    """The test Redis; every key this run makes starts with its broker prefix and is removed after."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    yield client
    for key in client.scan_iter(match=f"{os.environ['HERALD_BROKER_KEY_PREFIX']}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def broker_queue_length(redis_client):
    """Lengths of the broker's queues; the queues are emptied after the test (what it enqueued
    refers to rows its transaction rolls back)."""

    def length(queue: str) -> int:
        return redis_client.llen(f"{os.environ['HERALD_BROKER_KEY_PREFIX']}{queue}")

    yield length
    for queue in ("herald.interactive", "herald.bulk", "herald.push"):
        redis_client.delete(f"{os.environ['HERALD_BROKER_KEY_PREFIX']}{queue}")


@pytest.fixture(autouse=True)
def _no_drain_left_scheduled(redis_client):
    """A test that sent to one user left the "drain scheduled" mark of a drain no worker ran
    (delivery/drain_mark.py, schedule_pending_fan_out): the next test's sends would wait for it to expire."""
    health.forget_broker_answer()  # and a send trusting the broker's answer to an earlier test's probe
    yield
    redis_client.delete(f"{os.environ['HERALD_CHANNEL_PREFIX']}:fan-out-pending-scheduled")


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """Always creates the test database, whichever tests run.

    pytest-django creates only the databases that marked tests ask for; the system tests
    reach the database from other processes, outside any test transaction, with no mark.
    """
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    yield
    with django_db_blocker.unblock():
        connections.close_all()
        teardown_databases(config, verbosity=0)


@pytest.fixture(scope="session")
def system_env(django_db_setup, django_db_blocker, redis_client) -> dict[str, str]:
    """The environment of every process a test starts: the test database, Redis and secrets."""
    with django_db_blocker.unblock():
        url = database_url_of(connections["default"].settings_dict)
    web_port, pusher_port = processes.free_port(), processes.free_port()
    return processes.base_env(
        DATABASE_URL=url,
        HERALD_TEST_WEB_PORT=str(web_port),
        # The pages the web serves point browsers at the main test pusher.
        HERALD_TEST_PUSHER_PORT=str(pusher_port),
        HERALD_PUSHER_URL=f"http://127.0.0.1:{pusher_port}",
        # Sockets are opened with the web's Origin, as a browser on the site would.
        HERALD_ALLOWED_ORIGINS=f"http://127.0.0.1:{web_port}",
    )


@pytest.fixture
def committed(django_db_blocker):
    """DB access outside any test transaction, so that other processes see the rows.

    Rows persist for the run: tests that use this make users with unique names.
    """
    with django_db_blocker.unblock():
        yield
        # Close this context's connection: under Playwright's sync API the test body runs in a
        # context of its own, whose connection the session's final close_all() cannot see.
        connections.close_all()


@pytest.fixture
def make_user():
    def make(prefix: str = "user", password: str = "correct horse battery"):
        user = get_user_model().objects.create_user(f"{prefix}-{uuid.uuid4().hex[:8]}", password=password)
        user.raw_password = password
        return user

    return make


@pytest.fixture(scope="module")
def worker_process(system_env):
    service = processes.worker(system_env).start()
    service.wait_for_log("ready.")
    yield service
    service.stop()


@pytest.fixture(scope="module")
def web_process(system_env):
    port = int(system_env["HERALD_TEST_WEB_PORT"])
    service = processes.web(system_env, port=port).start()
    service.url = f"http://127.0.0.1:{port}"
    service.wait_for_http(f"{service.url}/accounts/login/")
    yield service
    service.stop()


def start_pusher(system_env, async_mode: str, *, port: int | None = None):
    port = port or processes.free_port()
    service = processes.pusher(system_env, port=port, async_mode=async_mode).start()
    service.url = f"http://127.0.0.1:{port}"
    service.wait_for_http(f"{service.url}/healthz")
    return service


@pytest.fixture(scope="module")
def pusher_process(system_env):
    service = start_pusher(system_env, "eventlet", port=int(system_env["HERALD_TEST_PUSHER_PORT"]))
    yield service
    service.stop()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, one per test module (tests/support/browser.py)."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="pw-bob-123")


@pytest.fixture
def smtp():
    """A real SMTP server of the test's own (aiosmtpd, tests/support/smtp.py), on a free port; stopped after."""
    with smtp_server() as server:
        yield server


@pytest.fixture
def smtp_settings(smtp, settings):
    """Django's SMTP backend pointed at ``smtp`` (pytest-django's default is its in-memory outbox)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = smtp.host, smtp.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    return smtp

"""The message queue down: changes a user makes still commit and answer normally; only liveness waits.

A live update is best-effort (every client refetches its state on reconnect), so a dead broker must
never turn a committed mark-read, a stock django-notifications action or a logout into an error page.
"""

from __future__ import annotations

import pytest
from notifications.models import Notification
from notifications.signals import notify
from user_sessions.models import Session

from tests.support import processes
from tests.support.clients import WebSession

pytestmark = pytest.mark.usefixtures("committed")


@pytest.fixture(scope="module")
def web_without_broker(system_env):
    port = processes.free_port()
    # Nothing listens on port 1: every enqueue fails at once.
    env = {**system_env, "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}
    service = processes.web(env, port=port).start()
    service.url = f"http://127.0.0.1:{port}"
    service.wait_for_http(f"{service.url}/accounts/login/")
    yield service
    service.stop()


def test_marking_read_unread_and_all_read_still_works(web_without_broker, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    for verb in ("one", "two", "three"):
        notify.send(bob, recipient=alice, verb=verb)  # the test process's own broker works
    first, second, third = Notification.objects.filter(recipient=alice).order_by("id")
    tab = WebSession(web_without_broker.url, alice.username, alice.raw_password)

    assert tab.post(f"/herald/notifications/{first.id}/read/").status_code == 200
    assert tab.post(f"/herald/notifications/{first.id}/unread/").status_code == 200
    assert tab.post(f"/inbox/notifications/mark-as-read/{second.slug}/").status_code == 302
    assert tab.post(f"/inbox/notifications/delete/{third.slug}/").status_code == 302
    assert tab.post("/herald/notifications/read-all/").status_code == 200

    assert not Notification.objects.filter(recipient=alice, unread=True).exists()
    assert not Notification.objects.filter(id=third.id).exists()
    assert "Traceback" not in web_without_broker.log()
    assert "live update not enqueued" in web_without_broker.log()


def test_logging_out_still_ends_the_session(web_without_broker, make_user):
    alice = make_user("alice")
    tab = WebSession(web_without_broker.url, alice.username, alice.raw_password)
    key = tab.session_key
    assert Session.objects.filter(session_key=key).exists()

    assert tab.logout().status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    assert tab.http.get(f"{web_without_broker.url}/herald/notifications/", timeout=10).status_code == 401

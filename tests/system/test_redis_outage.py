"""Redis stops and returns while pages stay open: every page ends equal to the database, without a reload.

Redis pub/sub keeps nothing for a subscriber that is away, and the sockets of a pusher whose
subscription broke stay connected: the pusher must resubscribe soon after Redis answers, say it is
unsubscribed meanwhile, and tell every socket it serves to refetch (herald_live/pusher/queue.py).
"""

from __future__ import annotations

import signal

import pytest
import requests
from django.contrib.contenttypes.models import ContentType
from notifications.models import Notification
from playwright.sync_api import expect

from herald_live import wire
from tests.conftest import start_pusher
from tests.support import processes
from tests.support.browser import log_in
from tests.support.clients import LiveSocket, WebSession
from tests.support.widget import Widget

pytestmark = pytest.mark.usefixtures("committed")


@pytest.fixture
def site_on_own_redis(system_env, own_redis):
    """Web, worker and a pusher on a Redis the test stops; the web's pages point at that pusher."""
    web_port, pusher_port = processes.free_port(), processes.free_port()
    env = {
        **system_env,
        "REDIS_URL": own_redis.url,
        "HERALD_ALLOWED_ORIGINS": f"http://127.0.0.1:{web_port}",
        "HERALD_PUSHER_URL": f"http://127.0.0.1:{pusher_port}",
        "HERALD_BROKER_RESTORE_INTERVAL": "1",
    }
    pusher = start_pusher(env, "eventlet", port=pusher_port)
    web = processes.web(env, port=web_port).start()
    web.url = f"http://127.0.0.1:{web_port}"
    worker = processes.worker(env, name="outage-worker").start()
    web.wait_for_http(f"{web.url}/accounts/login/")
    worker.wait_for_log("ready.")
    yield web, pusher
    worker.stop()
    web.stop()
    pusher.stop()


def pusher_health(pusher) -> tuple[int, dict]:
    response = requests.get(f"{pusher.url}/healthz", timeout=5)
    return response.status_code, response.json()


def written_without_publishing(*, recipient, actor, verb: str) -> None:
    """A row the page was never told about, as when a publish fell in the pusher's gap."""
    Notification.objects.bulk_create(
        [
            Notification(
                recipient=recipient,
                actor_content_type=ContentType.objects.get_for_model(actor),
                actor_object_id=str(actor.pk),
                verb=verb,
            )
        ]
    )


def test_after_a_redis_outage_an_open_page_ends_equal_to_the_server_without_a_reload(
    browser, site_on_own_redis, own_redis, make_user
):
    web, pusher = site_on_own_redis
    alice, bob = make_user("alice"), make_user("bob")
    context, page = log_in(browser, web.url, alice, viewport={"width": 1280, "height": 800})
    socket = LiveSocket(origin=web.url).connect(
        pusher.url, WebSession(web.url, alice.username, alice.raw_password).token()
    )
    try:
        widget = Widget(page)
        expect(widget.root).to_have_attribute("data-herald-state", "live", timeout=10_000)
        page.evaluate("window.heraldTestNoReload = true")
        log_mark = len(pusher.log())

        own_redis.stop(signal.SIGKILL)
        # Unsubscribed, the pusher says so (python-socketio's own flag stays true through an outage).
        processes.wait_until(
            lambda: pusher_health(pusher)[1].get("subscribed") is False, timeout=10, what="the pusher to say so"
        )
        assert pusher_health(pusher) == (503, {"status": "unhealthy", "redis": "down", "subscribed": False})
        for n in range(2):
            written_without_publishing(recipient=alice, actor=bob, verb=f"missed {n}")
        own_redis.start()
        processes.wait_until(lambda: processes.redis_answers(own_redis.url), timeout=10, what="redis-server to return")

        # Every socket of the pusher is told to refetch: the page's list and badge follow the database.
        socket.wait_for(lambda s: s.of_type(wire.NOTIFICATIONS_CHANGED), timeout=15)
        assert pusher_health(pusher) == (200, {"status": "ok", "redis": "up", "subscribed": True})
        widget.open()
        expect(widget.items()).to_have_count(2, timeout=10_000)
        expect(widget.badge).to_have_text("2")

        # And what is sent afterwards arrives live, on the same sockets.
        sender = WebSession(web.url, bob.username, bob.raw_password)
        processes.wait_until(
            lambda: sender.send(to=alice.username, message="after the outage").status_code == 202,
            timeout=20,
            interval=1,
            what="the web to accept a send again",
        )
        expect(widget.item("after the outage")).to_have_count(1, timeout=15_000)
        expect(widget.badge).to_have_text(str(Notification.objects.filter(recipient=alice, unread=True).count()))
        assert sorted(widget.verbs()) == sorted(
            Notification.objects.filter(recipient=alice, unread=True).values_list("verb", flat=True)
        )
        assert page.evaluate("window.heraldTestNoReload") is True
        # One line for the outage, not one per attempt.
        assert pusher.log()[log_mark:].count("redis subscription lost") == 1
        assert "Traceback" not in pusher.log()[log_mark:]
    finally:
        socket.close()
        context.close()

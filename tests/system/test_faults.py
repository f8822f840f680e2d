"""Faults with real processes: a worker killed mid fan-out, Redis restarted or down, the database down,
sessions that expire or end with a password change. Every accepted send arrives exactly once."""

from __future__ import annotations

import signal

import pytest
import requests
import socketio
from django.contrib.auth import get_user_model
from django.db import transaction
from notifications.models import Notification

from herald_live import wire
from herald_live.actions import sending
from herald_live.delivery import publish
from herald_live.models import Event
from tests.conftest import start_pusher
from tests.support import processes
from tests.support.clients import LiveSocket, WebSession

pytestmark = pytest.mark.usefixtures("committed")


def event_done(event_id: int) -> bool:
    return Event.objects.get(pk=event_id).status == Event.Status.DONE


def test_a_worker_killed_mid_fan_out_loses_and_doubles_nothing(system_env, web_process, pusher_process, make_user):
    User = get_user_model()
    User.objects.bulk_create([User(username=f"kill9-{i}-{id(system_env)}-{make_user('x').pk}") for i in range(1200)])
    alice, actor = make_user("alice"), make_user("actor")
    tab = WebSession(web_process.url, alice.username, alice.raw_password)
    socket = LiveSocket(origin=web_process.url).connect(pusher_process.url, tab.token())
    # Short visibility timeout: the killed attempt's task comes back within seconds, not an hour.
    env = {
        **system_env,
        "HERALD_FANOUT_CHUNK_SIZE": "20",
        "HERALD_BROKER_VISIBILITY_TIMEOUT": "5",
        "HERALD_BROKER_RESTORE_INTERVAL": "1",
    }
    first = processes.worker(env, name="doomed-worker").start()
    second = processes.worker(env, name="rescue-worker")
    try:
        first.wait_for_log("ready.")
        with transaction.atomic():
            event = sending.send_notification(actor=actor, everyone=True, verb="survives kill -9", level="info")
        processes.wait_until(lambda: Event.objects.get(pk=event.pk).rows_persisted > 0, timeout=30, what="rows")

        first.stop(signal.SIGKILL)
        assert not event_done(event.pk), "the fan-out finished before the kill: nothing was tested"
        second.start().wait_for_log("ready.")
        processes.wait_until(lambda: event_done(event.pk), timeout=120, interval=0.5, what="the re-delivered fan-out")

        rows = Notification.objects.filter(verb="survives kill -9")
        active = User.objects.filter(is_active=True).count()
        assert rows.count() == active
        assert rows.values("recipient_id").distinct().count() == active
        # alice sees it live (maybe twice on the wire, as the re-run publishes again) or when she reconnects.
        mine = rows.get(recipient=alice).id
        state = tab.get_json("/herald/notifications/state/")
        assert [n["id"] for n in state["notifications"] if n["verb"] == "survives kill -9"] == [mine]
        socket.wait_for(lambda s: mine in s.created_ids(), timeout=30)
        assert set(socket.created_ids()) == {mine}
    finally:
        socket.close()
        first.stop(signal.SIGKILL)
        second.stop()


@pytest.fixture
def system_on_own_redis(system_env, own_redis):
    """web, pusher and (started by the test) workers, all on a Redis that the test can stop and start."""
    web_port = processes.free_port()
    env = {
        **system_env,
        "REDIS_URL": own_redis.url,
        "HERALD_ALLOWED_ORIGINS": f"http://127.0.0.1:{web_port}",
        "HERALD_BROKER_RESTORE_INTERVAL": "1",
    }
    web = processes.web(env, port=web_port).start()
    web.url = f"http://127.0.0.1:{web_port}"
    pusher = start_pusher(env, "eventlet")
    web.wait_for_http(f"{web.url}/accounts/login/")
    yield env, web, pusher
    pusher.stop()
    web.stop()


def restart(server: processes.Service) -> None:
    server.stop(signal.SIGTERM)  # Redis writes its append-only file as it shuts down
    server.start()
    processes.wait_until(lambda: processes.redis_answers(server.url), timeout=10, what="redis-server to return")


def test_queued_events_survive_a_redis_restart(system_on_own_redis, own_redis, make_user):
    env, web, pusher = system_on_own_redis
    alice, bob = make_user("alice"), make_user("bob")
    tab = WebSession(web.url, alice.username, alice.raw_password)
    sender = WebSession(web.url, bob.username, bob.raw_password)
    assert sender.send(to=alice.username, message="queued across a restart").status_code == 202

    restart(own_redis)

    worker = processes.worker(env, name="after-restart-worker").start()
    socket = LiveSocket(origin=web.url).connect(pusher.url, tab.token())
    try:
        worker.wait_for_log("ready.")
        processes.wait_until(
            lambda: Notification.objects.filter(recipient=alice, verb="queued across a restart").count() == 1,
            timeout=30,
            what="the queued event to be fanned out",
        )
        state = tab.get_json("/herald/notifications/state/")
        assert [n["verb"] for n in state["notifications"]] == ["queued across a restart"]
    finally:
        socket.close()
        worker.stop()


def test_redis_down_gets_503_and_everything_resumes_when_it_returns(system_on_own_redis, own_redis, make_user):
    env, web, pusher = system_on_own_redis
    alice, bob = make_user("alice"), make_user("bob")
    tab = WebSession(web.url, alice.username, alice.raw_password)
    sender = WebSession(web.url, bob.username, bob.raw_password)
    worker = processes.worker(env, name="outage-worker").start()
    socket = LiveSocket(origin=web.url).connect(pusher.url, tab.token())
    try:
        worker.wait_for_log("ready.")
        events_before = Event.objects.count()

        own_redis.stop(signal.SIGKILL)
        refused = sender.send(to=alice.username, message="during the outage")
        health = requests.get(f"{web.url}/healthz", timeout=10)
        own_redis.start()
        processes.wait_until(lambda: processes.redis_answers(own_redis.url), timeout=10, what="redis-server to return")

        assert refused.status_code == 503
        assert "Nothing was changed" in refused.json()["error"]
        assert Event.objects.count() == events_before
        assert health.status_code == 503 and health.json()["redis"] == "down"
        processes.wait_until(
            lambda: requests.get(f"{web.url}/healthz", timeout=5).status_code == 200, timeout=20, what="web health"
        )
        processes.wait_until(
            lambda: requests.get(f"{pusher.url}/healthz", timeout=5).json().get("subscribed"),
            timeout=30,
            what="the pusher to subscribe again",
        )

        # No process was restarted: the same worker, pusher and socket carry on.
        def delivered() -> bool:
            if not socket.created_ids():
                sender.send(to=alice.username, message="after the outage")
            return bool(socket.created_ids())

        processes.wait_until(delivered, timeout=60, interval=3, what="a send after the outage to arrive live")
        assert socket.client.connected
        assert {n["verb"] for n in socket.of_type(wire.NOTIFICATION_CREATED)} == {"after the outage"}
    finally:
        socket.close()
        worker.stop()


def _http_status(url: str) -> int | None:
    try:
        return requests.get(url, timeout=2).status_code
    except requests.RequestException:
        return None


def test_the_database_down_gets_a_clear_503_page(system_env):
    port = processes.free_port()
    env = {**system_env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{processes.free_port()}/nowhere"}
    web = processes.gunicorn_web(env, port=port).start()
    url = f"http://127.0.0.1:{port}"
    try:
        web.wait_for_log("Booting worker")
        processes.wait_until(lambda: _http_status(f"{url}/healthz"), timeout=20, what="gunicorn to answer")
        # A visitor with a session: reading it needs the database.
        cookies = {"sessionid": "s" * 32}
        page = requests.get(f"{url}/", timeout=10, cookies=cookies)
        # As the widget asks for its state (Accept: application/json), and as an API client calls the producer API.
        api = requests.get(
            f"{url}/herald/notifications/state/", timeout=10, cookies=cookies, headers={"Accept": "application/json"}
        )
        producer = requests.get(
            f"{url}/herald/api/v1/events/1", timeout=10, headers={"Authorization": "Bearer hrld_" + "x" * 40}
        )
        health = requests.get(f"{url}/healthz", timeout=10)
    finally:
        web.stop()

    assert page.status_code == 503 and "cannot reach its database" in page.text
    assert "Traceback" not in page.text and "psycopg" not in page.text
    assert api.status_code == 503 and "Nothing was changed" in api.json()["error"]
    assert producer.status_code == 503 and "Nothing was changed" in producer.json()["error"]
    assert health.status_code == 503 and health.json()["database"] == "down"


def test_an_expired_session_loses_its_socket(system_env, pusher_process, make_user):
    port = processes.free_port()
    web = processes.web({**system_env, "HERALD_SESSION_AGE_SECONDS": "3"}, port=port).start()
    url = f"http://127.0.0.1:{port}"
    alice = make_user("alice")
    try:
        web.wait_for_http(f"{url}/accounts/login/")
        tab = WebSession(url, alice.username, alice.raw_password)
        claims = wire.verify_token(token=tab.token(), secrets=[system_env["HERALD_TOKEN_SECRET"]])
        origin = system_env["HERALD_ALLOWED_ORIGINS"]  # the origin the shared pusher accepts
        socket = LiveSocket(origin=origin).connect(pusher_process.url, tab.token())

        assert claims.session_expires_at is not None
        assert socket.disconnected.wait(10), "the socket outlived its session"
        assert publish.publish_to_user(user_id=alice.pk, envelope=wire.notifications_read(up_to_id=1)) == 0
    finally:
        web.stop()


def test_a_password_change_drops_the_other_sessions_sockets(web_process, pusher_process, worker_process, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    changer, other = (WebSession(web_process.url, alice.username, alice.raw_password) for _ in range(2))
    dropped = LiveSocket(origin=web_process.url).connect(pusher_process.url, other.token())
    stale_token = other.token()

    response = changer.http.post(
        f"{web_process.url}/accounts/password/",
        data={
            "old_password": alice.raw_password,
            "new_password1": "another long passphrase",
            "new_password2": "another long passphrase",
            "csrfmiddlewaretoken": changer.csrf,
        },
        timeout=10,
        allow_redirects=False,
    )

    assert response.status_code == 302
    assert dropped.disconnected.wait(10)
    assert other.http.get(f"{web_process.url}/herald/socket-token/", timeout=10).status_code == 401
    # A token minted before the change, still within its lifetime, opens no socket on the ended session.
    with pytest.raises(socketio.exceptions.ConnectionError):
        LiveSocket(origin=web_process.url).connect(pusher_process.url, stale_token)
    # The changer keeps a (new) session, and its sockets get what is sent.
    fresh = LiveSocket(origin=web_process.url).connect(pusher_process.url, changer.token())
    try:
        WebSession(web_process.url, bob.username, bob.raw_password).send(to=alice.username, message="new pw")
        fresh.wait_for(lambda s: len(s.created_ids()) == 1)
    finally:
        fresh.close()


def test_a_worker_whose_database_connection_was_cut_runs_the_next_task(worker_process, make_user):
    # Workers keep their connection between tasks (CELERY_DB_REUSE_MAX); one that the server
    # ended (a restart, a failover, an idle timeout) must be noticed and replaced, not fail tasks.
    from django.db import connection

    sender, recipient = make_user("cut-from"), make_user("cut-to")
    first = sending.send_notification(actor=sender, recipient=recipient, verb="before the cut", level="info")
    processes.wait_until(lambda: event_done(first.pk), timeout=30, what="the first fan-out")
    cut = 0
    if connection.vendor == "postgresql":  # SQLite has no server connection to cut
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            cut = cursor.fetchone()[0]
        assert cut >= 1, "the worker's connection was not found"

    second = sending.send_notification(actor=sender, recipient=recipient, verb="after the cut", level="info")

    processes.wait_until(lambda: event_done(second.pk), timeout=30, what="the fan-out after the cut")
    assert Notification.objects.filter(recipient=recipient, verb="after the cut").count() == 1

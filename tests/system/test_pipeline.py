"""The whole pipeline with real processes: web (runserver) -> Celery worker -> Redis -> pusher -> sockets."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from notifications.models import Notification

from herald_live import wire
from tests.support.clients import WebSession
from tests.support.processes import wait_until

pytestmark = pytest.mark.usefixtures("committed")


@pytest.fixture
def system(worker_process, pusher_process, web_process):
    return web_process.url, pusher_process.url


def login(system, user) -> WebSession:
    return WebSession(system[0], user.username, user.raw_password)


def test_a_send_reaches_every_session_of_the_recipient_and_nobody_else(system, sockets, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    alice_phone, alice_laptop, bob_session = login(system, alice), login(system, alice), login(system, bob)
    phone, laptop, bobs = (sockets(s, system[1]) for s in (alice_phone, alice_laptop, bob_session))

    response = bob_session.send(to=alice.username, message="lunch?")

    assert response.status_code == 202, response.text
    for socket in (phone, laptop):
        socket.wait_for(lambda s: len(s.created_ids()) == 1)
        (received,) = socket.of_type(wire.NOTIFICATION_CREATED)
        assert received["verb"] == "lunch?"
        assert received["actor"] == bob.username
    row = Notification.objects.get(recipient=alice)
    assert phone.created_ids() == laptop.created_ids() == [row.id]
    # bob's socket would have had it by now: alice's two arrived through the same publish.
    bob_session.send(to=bob.username, message="marker")
    bobs.wait_for(lambda s: len(s.created_ids()) == 1)
    assert [n["verb"] for n in bobs.of_type(wire.NOTIFICATION_CREATED)] == ["marker"]


def test_a_send_to_everyone_reaches_every_session_of_every_logged_in_user(system, sockets, make_user):
    users = [make_user("everyone") for _ in range(3)]
    # Sending to everyone takes a permission (herald_live.send_to_everyone); users[1] is granted it.
    users[1].user_permissions.add(
        Permission.objects.get(content_type__app_label="herald_live", codename="send_to_everyone")
    )
    sessions = [login(system, users[0]), login(system, users[0]), login(system, users[1]), login(system, users[2])]
    live = [sockets(s, system[1]) for s in sessions]

    refused = sessions[3].send(everyone=True, message="not from me")
    assert refused.status_code == 403, refused.text
    assert sessions[2].send(everyone=True, message="maintenance at noon").status_code == 202

    for socket in live:
        socket.wait_for(lambda s: any(n["verb"] == "maintenance at noon" for n in s.of_type("notification.created")))
    for user in users:
        assert Notification.objects.filter(recipient=user, verb="maintenance at noon").count() == 1
    assert not Notification.objects.filter(verb="not from me").exists()


def test_mark_all_read_clears_every_session_and_the_database(system, sockets, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    tab1, tab2, sender = login(system, alice), login(system, alice), login(system, bob)
    first, second = sockets(tab1, system[1]), sockets(tab2, system[1])
    for text in ("one", "two"):
        sender.send(to=alice.username, message=text)
    for socket in (first, second):
        socket.wait_for(lambda s: len(s.created_ids()) == 2)

    response = tab1.post("/herald/notifications/read-all/")

    assert response.status_code == 200
    up_to = response.json()["up_to_id"]
    assert up_to == max(first.created_ids())
    for socket in (first, second):
        socket.wait_for(lambda s: s.of_type(wire.NOTIFICATIONS_READ) == [{"up_to_id": up_to}])
    assert not Notification.objects.filter(recipient=alice, unread=True).exists()
    assert tab2.get_json("/herald/notifications/state/")["unread_count"] == 0


def test_a_reconnecting_client_gets_each_missed_notification_exactly_once(system, sockets, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    tab, sender = login(system, alice), login(system, bob)
    socket = sockets(tab, system[1])
    sender.send(to=alice.username, message="before")
    socket.wait_for(lambda s: len(s.created_ids()) == 1)
    seen = {n["id"]: n for n in socket.of_type(wire.NOTIFICATION_CREATED)}
    last_seen = max(seen)

    socket.close()
    for text in ("missed 1", "missed 2"):
        sender.send(to=alice.username, message=text)
    wait_until(lambda: Notification.objects.filter(recipient=alice).count() == 3, timeout=15, what="rows")

    # The client's protocol (docs/wire.md): reconnect, then refetch the whole unread state, merged by id.
    again = sockets(tab, system[1])
    backlog = tab.get_json("/herald/notifications/state/")["notifications"]
    sender.send(to=alice.username, message="after")
    again.wait_for(lambda s: len(s.created_ids()) == 1)
    received = [n["id"] for n in backlog] + again.created_ids()
    for notification_id in received:
        seen.setdefault(notification_id, None)

    expected = list(Notification.objects.filter(recipient=alice).order_by("id").values_list("id", flat=True))
    assert sorted(seen) == expected
    assert sorted(n["verb"] for n in backlog if n["id"] > last_seen) == ["missed 1", "missed 2"]
    assert len(received) == len(set(received)), "a notification arrived twice"


def test_logout_closes_that_sessions_sockets_only(system, sockets, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    leaving, staying, sender = login(system, alice), login(system, alice), login(system, bob)
    gone, kept = sockets(leaving, system[1]), sockets(staying, system[1])

    assert leaving.logout().status_code == 302

    assert gone.disconnected.wait(10), "the logged-out session's socket stayed open"
    sender.send(to=alice.username, message="after logout")
    kept.wait_for(lambda s: len(s.created_ids()) == 1)
    assert gone.created_ids() == []
    assert kept.client.connected


def test_session_keys_and_tokens_never_reach_the_logs(
    system, sockets, make_user, worker_process, pusher_process, web_process
):
    alice, bob = make_user("alice"), make_user("bob")
    tab, sender = login(system, alice), login(system, bob)
    token = tab.token()
    secrets_seen = [tab.session_key, sender.session_key, token, token.split(".")[2]]
    assert all(secrets_seen)
    socket = sockets(tab, system[1])
    sender.send(to=alice.username, message="log check")
    socket.wait_for(lambda s: len(s.created_ids()) == 1)
    tab.logout()
    assert socket.disconnected.wait(10)

    for service in (worker_process, pusher_process, web_process):
        log = service.log()
        assert log, f"the {service.name} log is empty"
        for secret in secrets_seen:
            assert secret not in log, f"a secret reached the {service.name} log"

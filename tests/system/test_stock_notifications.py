"""django-notifications as a site already uses it, live: notify.send and the stock URLs, through real processes."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from notifications.models import Notification
from notifications.signals import notify

from herald_live import wire
from tests.support.clients import LiveSocket, WebSession

pytestmark = pytest.mark.usefixtures("committed")

STOCK = "/inbox/notifications"


@pytest.fixture
def system(worker_process, pusher_process, web_process):
    return web_process.url, pusher_process.url


@pytest.fixture
def live(system):
    opened: list[LiveSocket] = []

    def open_for(user) -> tuple[WebSession, LiveSocket]:
        session = WebSession(system[0], user.username, user.raw_password)
        socket = LiveSocket(origin=session.base_url).connect(system[1], session.token())
        opened.append(socket)
        return session, socket

    yield open_for
    for socket in opened:
        socket.close()


def test_notify_send_reaches_every_session_of_the_recipients_only(live, make_user):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    (_, phone), (_, laptop), (_, bobs) = live(alice), live(alice), live(bob)

    notify.send(carol, recipient=alice, verb="liked your photo", description="the one from Lisbon")

    (row,) = Notification.objects.filter(recipient=alice)
    for socket in (phone, laptop):
        socket.wait_for(lambda s: s.created_ids() == [row.id])
        (payload,) = socket.of_type(wire.NOTIFICATION_CREATED)
        assert (payload["verb"], payload["actor"], payload["description"]) == (
            "liked your photo",
            carol.username,
            "the one from Lisbon",
        )
    # A queryset of recipients (bulk_create inside django-notifications) is published too.
    notify.send(carol, recipient=get_user_model().objects.filter(pk__in=[alice.pk, bob.pk]), verb="news")
    bobs.wait_for(lambda s: len(s.created_ids()) == 1)
    assert [n["verb"] for n in bobs.of_type(wire.NOTIFICATION_CREATED)] == ["news"]
    phone.wait_for(lambda s: len(s.created_ids()) == 2)


def test_the_stock_urls_work_and_sync_every_other_session(live, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    (tab, _), (_, other) = live(alice), live(alice)
    for verb in ("one", "two", "three"):
        notify.send(bob, recipient=alice, verb=verb)
    first, second, third = Notification.objects.filter(recipient=alice).order_by("id")
    other.wait_for(lambda s: len(s.created_ids()) == 3)

    assert tab.get_json(f"{STOCK}/api/unread_count/") == {"unread_count": 3}
    listed = tab.get_json(f"{STOCK}/api/unread_list/", max=10)
    assert {item["id"] for item in listed["unread_list"]} == {first.id, second.id, third.id}

    assert tab.post(f"{STOCK}/mark-as-read/{first.slug}/").status_code == 302
    other.wait_for(lambda s: s.of_type(wire.NOTIFICATION_READ) == [{"id": first.id}])

    assert tab.post(f"{STOCK}/mark-as-unread/{first.slug}/").status_code == 302
    other.wait_for(lambda s: [n["id"] for n in s.of_type(wire.NOTIFICATION_UNREAD)] == [first.id])
    assert other.of_type(wire.NOTIFICATION_UNREAD)[0]["verb"] == "one"

    assert tab.post(f"{STOCK}/delete/{second.slug}/").status_code == 302
    other.wait_for(lambda s: s.of_type(wire.NOTIFICATION_DELETED) == [{"id": second.id}])

    assert tab.post(f"{STOCK}/mark-all-as-read/").status_code == 302
    other.wait_for(lambda s: s.of_type(wire.NOTIFICATIONS_READ) == [{"up_to_id": third.id}])
    assert tab.get_json(f"{STOCK}/api/unread_count/") == {"unread_count": 0}
    assert not Notification.objects.filter(recipient=alice, unread=True).exists()


def test_the_stock_urls_never_touch_another_users_notifications(live, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    (bobs_tab, _), (_, alices) = live(bob), live(alice)
    notify.send(bob, recipient=alice, verb="private")
    (row,) = Notification.objects.filter(recipient=alice)
    alices.wait_for(lambda s: s.created_ids() == [row.id])

    assert bobs_tab.post(f"{STOCK}/mark-as-read/{row.slug}/").status_code == 404
    row.refresh_from_db()
    assert row.unread

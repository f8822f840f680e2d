"""Web push sending (herald_live/push/send.py) against a local HTTP server standing in for the push services.

Nothing of the sending is replaced: pywebpush encrypts and signs, requests POSTs over a real socket, the
retries are real Celery messages on the real broker (read back from Redis). The server decrypts with the
test browser's private key and auth secret, which Herald never had: a payload that decrypts is one Herald
encrypted to that browser.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from notifications.models import Notification
from user_sessions.models import Session

from herald_live import notification_types, wire
from herald_live.actions import sending
from herald_live.conf import app_settings
from herald_live.delivery import drain, fanout
from herald_live.models import Channel, ChannelPreference, PushSubscription
from herald_live.push import audience as push_audience
from herald_live.push import send as push_send
from herald_live.push import vapid
from herald_live.pusher.presence import Presence
from tests.support import broker
from tests.support.processes import free_port
from tests.support.push_service import BrowserKeys, PushService, verify_vapid

pytestmark = pytest.mark.django_db

SUBJECT = "mailto:ops@example.com"


@pytest.fixture(scope="module")
def site_keys() -> vapid.KeyPair:
    return vapid.generate()


@pytest.fixture
def push_queue(settings, site_keys, redis_client):
    """Push on, with a queue of this test's own; returns a reader of the tasks enqueued on it."""
    settings.HERALD_VAPID_PUBLIC_KEY = site_keys.public_key
    settings.HERALD_VAPID_PRIVATE_KEY = site_keys.private_key
    settings.HERALD_VAPID_SUBJECT = SUBJECT
    settings.HERALD_PUSH_QUEUE = queue = f"herald.push-test-{uuid.uuid4().hex[:8]}"

    def tasks() -> list[dict]:
        """The Celery messages on the queue, oldest first: task name, args, kwargs and ETA."""
        return [
            {"task": message["task"], "args": message["args"], "kwargs": message["kwargs"], "eta": message.get("eta")}
            for message in broker.messages(redis_client, queue)
        ]

    yield tasks
    redis_client.delete(broker.queue_key(queue))


@pytest.fixture
def push_service():
    with PushService() as service:
        yield service


def subscribe(user, service: PushService, name: str) -> tuple[PushSubscription, BrowserKeys]:
    browser = BrowserKeys()
    keys = browser.subscription(service.endpoint(name))["keys"]
    row = PushSubscription.objects.create(
        user=user, endpoint=service.endpoint(name), p256dh=keys["p256dh"], auth=keys["auth"]
    )
    return row, browser


def logged_in(user) -> str:
    """An unexpired session of the user's (a browser logged in, open or not); its key."""
    key = secrets.token_hex(16)
    Session.objects.create(
        session_key=key, session_data="", user=user, user_agent="test", expire_date=timezone.now() + timedelta(hours=1)
    )
    return key


@pytest.fixture
def on_the_site(redis_client):
    """Logs a user in and gives that session a socket, as a pusher reports it in Redis (pusher/presence.py)."""
    key = wire.presence_key(app_settings.CHANNEL_PREFIX)
    pusher = Presence(redis_client, key=key, seconds=60)
    digests: list[str] = []

    def connect(user) -> str:
        digests.append(wire.session_digest(logged_in(user)))
        pusher.joined(sid=secrets.token_hex(8), session=digests[-1])
        assert pusher.write()
        return wire.session_room(digests[-1])

    yield connect
    if digests:
        redis_client.zrem(key, *digests)


def test_a_push_is_encrypted_to_the_browser_and_signed_with_the_sites_key(
    django_user_model, push_queue, push_service, site_keys
):
    alice, bob = django_user_model.objects.create_user("alice"), django_user_model.objects.create_user("bob")
    subscription, browser = subscribe(bob, push_service, "bob-laptop")
    group = Group.objects.create(name="ops")
    row = Notification.objects.create(
        recipient=bob, actor=alice, verb="deployed the release", level="error", target=group
    )

    report = push_send.send(notification_ids=[row.pk])

    assert dict(report.outcomes) == {push_send.OK: 1}
    (request,) = push_service.received("bob-laptop")
    # Only the browser's private key opens it; it says who, what, and which page a click opens.
    assert browser.decrypt(request.body) == {
        "title": "alice",
        "body": "deployed the release",
        "url": f"/sessions/?group={group.pk}",  # the target's get_absolute_url (tests/settings.py)
        "level": "error",
        "id": row.pk,
        "tag": f"herald-{row.pk}",
    }
    headers = request.headers
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["ttl"] == str(24 * 3600)
    assert headers["urgency"] == "high"  # an error may wake a sleeping phone
    assert headers["topic"] == f"herald-{row.pk}"
    claims = verify_vapid(headers["authorization"], public_key=site_keys.public_key, audience=push_service.url)
    assert claims["sub"] == SUBJECT
    subscription.refresh_from_db()
    assert subscription.last_success_at is not None and timezone.now() - subscription.last_success_at < timedelta(
        minutes=1
    )
    assert push_queue() == []


def test_a_system_send_is_titled_with_the_sites_name_and_opens_the_configured_page(
    django_user_model, push_queue, push_service, settings
):
    settings.HERALD_PUSH_OPEN_URL = "/inbox/"
    bob = django_user_model.objects.create_user("bob")
    _, browser = subscribe(bob, push_service, "bob")
    event, _ = sending.record_event(audience="users", recipient_ids=[bob.pk], verb="maintenance at 6", level="info")
    fanout.fan_out_event(event_id=event.pk)  # its rows; its on-commit enqueue never runs in this test transaction
    row = Notification.objects.get(recipient=bob)

    push_send.send(notification_ids=[row.pk])

    payload = browser.decrypt(push_service.received("bob")[0].body)
    assert (payload["title"], payload["body"], payload["url"]) == (
        settings.HERALD_SYSTEM_NAME,
        "maintenance at 6",
        "/inbox/",
    )
    assert push_service.received("bob")[0].headers["urgency"] == "normal"


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_push_service_says_is_gone_is_deleted(django_user_model, push_queue, push_service, status):
    alice, bob = django_user_model.objects.create_user("alice"), django_user_model.objects.create_user("bob")
    gone, _ = subscribe(bob, push_service, "old-phone")
    kept, _ = subscribe(bob, push_service, "laptop")
    push_service.answer("old-phone", status)
    row = Notification.objects.create(recipient=bob, actor=alice, verb="hi")

    report = push_send.send(notification_ids=[row.pk])

    assert dict(report.outcomes) == {push_send.OK: 1, push_send.GONE: 1}
    assert list(PushSubscription.objects.filter(user=bob)) == [kept]
    assert not PushSubscription.objects.filter(pk=gone.pk).exists()
    assert push_queue() == []  # gone is not retried


def test_transient_failures_are_sent_again_later_and_only_they(django_user_model, push_queue, push_service):
    alice, bob = django_user_model.objects.create_user("alice"), django_user_model.objects.create_user("bob")
    fine, _ = subscribe(bob, push_service, "fine")
    flaky, flaky_browser = subscribe(bob, push_service, "flaky")
    busy, _ = subscribe(bob, push_service, "busy")
    # A push service that does not answer at all: nothing listens on this port.
    unreachable = PushSubscription.objects.create(
        user=bob, endpoint=f"http://127.0.0.1:{free_port()}/push/x", p256dh=fine.p256dh, auth=fine.auth
    )
    push_service.answer("flaky", 503)
    push_service.answer("busy", (429, {"Retry-After": "40"}))
    row = Notification.objects.create(recipient=bob, actor=alice, verb="hi")

    before = time.time()
    report = push_send.send(notification_ids=[row.pk])

    assert dict(report.outcomes) == {push_send.OK: 1, push_send.RETRY: 3}
    (retry,) = push_queue()
    assert retry["task"] == "herald.send_push"
    assert retry["args"] == [[row.pk]]
    assert sorted(map(tuple, retry["kwargs"]["pairs"])) == sorted(
        [(row.pk, flaky.pk), (row.pk, busy.pk), (row.pk, unreachable.pk)]
    )
    assert retry["kwargs"]["attempt"] == 1
    # Later, and no sooner than the busy push service asked.
    eta = timezone.datetime.fromisoformat(retry["eta"]).timestamp()
    assert before + 40 <= eta <= time.time() + 41

    # The retry, as the worker runs it: only the failed deliveries go out again.
    again = push_send.send(notification_ids=retry["args"][0], **retry["kwargs"])

    assert dict(again.outcomes) == {push_send.OK: 2, push_send.RETRY: 1}
    assert [len(push_service.received(name)) for name in ("fine", "flaky", "busy")] == [1, 2, 2]
    assert flaky_browser.decrypt(push_service.received("flaky")[1].body)["id"] == row.pk
    second = push_queue()[1]
    assert (second["kwargs"]["pairs"], second["kwargs"]["attempt"]) == ([[row.pk, unreachable.pk]], 2)


def test_retries_end_after_the_last_delay(django_user_model, push_queue, push_service):
    alice, bob = django_user_model.objects.create_user("alice"), django_user_model.objects.create_user("bob")
    subscription, _ = subscribe(bob, push_service, "down")
    push_service.answer("down", 500)
    row = Notification.objects.create(recipient=bob, actor=alice, verb="hi")

    report = push_send.send(
        notification_ids=[row.pk], pairs=[[row.pk, subscription.pk]], attempt=len(push_send.RETRY_DELAYS)
    )

    assert dict(report.outcomes) == {push_send.RETRY: 1}
    assert push_queue() == []
    assert PushSubscription.objects.filter(pk=subscription.pk).exists()


def test_a_push_service_refusal_is_neither_retried_nor_a_reason_to_delete(django_user_model, push_queue, push_service):
    alice, bob = django_user_model.objects.create_user("alice"), django_user_model.objects.create_user("bob")
    subscription, _ = subscribe(bob, push_service, "other-key")
    push_service.answer("other-key", 403)  # the browser subscribed with keys the site has replaced since
    row = Notification.objects.create(recipient=bob, actor=alice, verb="hi")

    assert dict(push_send.send(notification_ids=[row.pk]).outcomes) == {push_send.FAILED: 1}
    assert push_queue() == []
    assert PushSubscription.objects.filter(pk=subscription.pk).exists()


def test_read_notifications_and_other_users_devices_are_left_alone(django_user_model, push_queue, push_service):
    alice, bob = django_user_model.objects.create_user("alice"), django_user_model.objects.create_user("bob")
    carol = django_user_model.objects.create_user("carol")
    subscribe(bob, push_service, "bob")
    carols, _ = subscribe(carol, push_service, "carol")
    read = Notification.objects.create(recipient=bob, actor=alice, verb="seen", unread=False)
    unread = Notification.objects.create(recipient=bob, actor=alice, verb="new")

    push_send.send(notification_ids=[read.pk, unread.pk])
    # A retry that names carol's device for bob's notification (her browser took over the subscription).
    push_send.send(notification_ids=[unread.pk], pairs=[[unread.pk, carols.pk]], attempt=1)

    assert [r.headers["topic"] for r in push_service.requests] == [f"herald-{unread.pk}"]
    assert push_service.received("carol") == []


def test_the_fan_out_enqueues_one_task_for_the_recipients_away_with_push_on(
    django_user_model, push_queue, push_service, on_the_site, redis_client, django_capture_on_commit_callbacks
):
    names = ("away", "closed", "gone", "live", "nodevice", "off")
    users = {name: django_user_model.objects.create_user(name) for name in (*names, "alice")}
    for name in ("away", "closed", "gone", "live", "off"):
        subscribe(users[name], push_service, name)
    on_the_site(users["live"])
    logged_in(users["closed"])  # logged in, every page closed: no socket
    # Its pusher died a while ago: the entry it left has expired.
    gone = wire.session_digest(logged_in(users["gone"]))
    redis_client.zadd(wire.presence_key(app_settings.CHANNEL_PREFIX), {gone: time.time() - 1})
    ChannelPreference.objects.create(
        user=users["off"], notification_type=notification_types.DEFAULT, channel=Channel.PUSH, enabled=False
    )
    event, _ = sending.record_event(
        actor=users["alice"], audience="users", recipient_ids=[users[n].pk for n in names], verb="hello", level="info"
    )

    try:
        with django_capture_on_commit_callbacks(execute=True):
            fanout.fan_out_event(event_id=event.pk)
    finally:
        redis_client.zrem(wire.presence_key(app_settings.CHANNEL_PREFIX), gone)

    (task,) = push_queue()
    assert task["task"] == "herald.send_push"
    away = Notification.objects.filter(recipient__username__in=["away", "closed", "gone"])
    assert task["args"] == [sorted(away.values_list("pk", flat=True))]
    assert task["kwargs"] == {}


def test_with_redis_unreachable_users_on_the_site_get_a_push_too(
    django_user_model, push_queue, push_service, on_the_site, settings, django_capture_on_commit_callbacks, caplog
):
    live = django_user_model.objects.create_user("live")
    subscribe(live, push_service, "live")
    rooms = {live.pk: [on_the_site(live)]}
    event, _ = sending.record_event(audience="users", recipient_ids=[live.pk], verb="hello", level="info")
    rows = [{"id": 1, "recipient_id": live.pk, "unread": True}]

    with django_capture_on_commit_callbacks(execute=True):
        push_audience.enqueue_on_commit(event=event, rows=rows, rooms_by_user=rooms)
    assert push_queue() == []  # on the site

    settings.HERALD_REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with django_capture_on_commit_callbacks(execute=True):
        push_audience.enqueue_on_commit(event=event, rows=rows, rooms_by_user=rooms)

    # At least once: not knowing who is on the site, push. (The task goes to the broker, which still answers.)
    assert [task["args"] for task in push_queue()] == [[[1]]]
    assert "presence unknown sessions=1: ConnectionError; treating them as away" in caplog.text


def test_a_type_that_pushes_when_live_also_reaches_users_on_the_site(
    django_user_model, push_queue, push_service, on_the_site, monkeypatch, django_capture_on_commit_callbacks
):
    urgent = notification_types.NotificationType(name="test.urgent", label="Urgent", push_when_live=True)
    monkeypatch.setitem(notification_types.registry, urgent.name, urgent)
    live, away = django_user_model.objects.create_user("live"), django_user_model.objects.create_user("away")
    for user in (live, away):
        subscribe(user, push_service, user.username)
    on_the_site(live)
    event, _ = sending.record_event(
        audience="users", recipient_ids=[live.pk, away.pk], verb="down", level="error", notification_type=urgent.name
    )

    with django_capture_on_commit_callbacks(execute=True):
        fanout.fan_out_event(event_id=event.pk)

    (task,) = push_queue()
    assert task["args"] == [sorted(Notification.objects.filter(verb="down").values_list("pk", flat=True))]


def test_each_chunk_enqueues_one_task(
    django_user_model, push_queue, push_service, settings, django_capture_on_commit_callbacks
):
    settings.HERALD_FANOUT_CHUNK_SIZE = 2
    users = [django_user_model.objects.create_user(f"user{i}") for i in range(5)]
    for user in users:
        subscribe(user, push_service, user.username)
    event, _ = sending.record_event(audience="users", recipient_ids=[u.pk for u in users], verb="hi", level="info")

    with django_capture_on_commit_callbacks(execute=True):
        planned = fanout.fan_out_event(event_id=event.pk)
        for index in range(planned.chunks_total):
            fanout.fan_out_chunk(event_id=event.pk, index=index)

    tasks = push_queue()
    assert [len(task["args"][0]) for task in tasks] == [2, 2, 1]
    assert sorted(nid for task in tasks for nid in task["args"][0]) == sorted(
        Notification.objects.values_list("pk", flat=True)
    )


def test_choosing_who_to_push_costs_one_query_when_nobody_has_a_device_and_none_when_push_is_off(
    django_user_model, push_queue, settings, django_assert_num_queries
):
    bob = django_user_model.objects.create_user("bob")
    event, _ = sending.record_event(audience="users", recipient_ids=[bob.pk], verb="hi", level="info")
    rows = [{"id": 1, "recipient_id": bob.pk, "unread": True}]

    with django_assert_num_queries(1):
        push_audience.enqueue_on_commit(event=event, rows=rows, rooms_by_user={})
    settings.HERALD_VAPID_PRIVATE_KEY = ""
    with django_assert_num_queries(0):
        push_audience.enqueue_on_commit(event=event, rows=rows, rooms_by_user={})


def test_nothing_is_sent_with_half_a_configuration(django_user_model, push_queue, push_service, settings):
    alice, bob = django_user_model.objects.create_user("alice"), django_user_model.objects.create_user("bob")
    subscribe(bob, push_service, "bob")
    row = Notification.objects.create(recipient=bob, actor=alice, verb="hi")
    settings.HERALD_VAPID_PUBLIC_KEY = vapid.generate().public_key  # not the private key's

    assert dict(push_send.send(notification_ids=[row.pk]).outcomes) == {}
    assert push_service.requests == []


def test_a_drain_of_one_recipient_sends_enqueues_one_task_for_the_whole_batch(
    django_user_model, push_queue, push_service, on_the_site, django_capture_on_commit_callbacks
):
    alice = django_user_model.objects.create_user("alice")
    away = [django_user_model.objects.create_user(f"away{i}") for i in range(3)]
    live = django_user_model.objects.create_user("live")
    for user in [*away, live]:
        subscribe(user, push_service, user.username)
    on_the_site(live)
    logged_in(away[0])  # logged in with no page open: away all the same
    for user in [*away, live]:
        sending.send_notification(actor=alice, recipient=user, verb="ping", level="info")

    with django_capture_on_commit_callbacks(execute=True):
        drain.fan_out_pending()

    (task,) = push_queue()
    assert task["args"] == [sorted(Notification.objects.filter(recipient__in=away).values_list("pk", flat=True))]

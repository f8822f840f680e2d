"""The fan-out service, called directly, publishing to the real Redis channel."""

from __future__ import annotations

import json
import secrets
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from notifications.models import Notification
from prometheus_client import REGISTRY
from user_sessions.models import Session

from herald_live import wire
from herald_live.actions import read_state, sending
from herald_live.delivery import fanout, publish, redrive, routing
from herald_live.infra import publisher
from herald_live.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(redis_client):
    """Everything published on this run's socket.io channel, as parsed JSON."""
    pubsub = redis.Redis.from_url(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(wire.socketio_channel(settings.HERALD_CHANNEL_PREFIX))
    raw: list[bytes] = []

    def drain() -> list[dict]:
        # get_message() also returns None for the subscribe confirmation it swallows.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            if message := pubsub.get_message(timeout=0.1):
                raw.append(message["data"])
        return [json.loads(item) for item in raw]

    drain.raw = raw
    yield drain
    pubsub.close()


def live_session(user, *, expired: bool = False) -> str:
    key = secrets.token_hex(16)
    Session.objects.create(
        session_key=key,
        session_data="",
        user=user,
        user_agent="test",
        expire_date=timezone.now() + (timedelta(hours=-1) if expired else timedelta(hours=1)),
    )
    return key


def test_fan_out_persists_one_row_and_publishes_once_to_all_live_sessions(
    django_user_model, channel, django_capture_on_commit_callbacks
):
    alice, bob = django_user_model.objects.create_user("alice"), django_user_model.objects.create_user("bob")
    keys = [live_session(alice), live_session(alice)]
    live_session(alice, expired=True)
    live_session(bob)
    event = sending.send_notification(actor=bob, recipient=alice, verb="hello", level="warning")

    with django_capture_on_commit_callbacks(execute=True):
        done = fanout.fan_out_event(event_id=event.pk)

    row = Notification.objects.get()
    assert (row.recipient, row.actor, row.verb, row.level, row.action_object) == (alice, bob, "hello", "warning", event)
    assert (done.status, done.recipients_count, done.rows_persisted, done.sessions_published) == ("done", 1, 1, 2)
    (message,) = channel()
    assert (message["method"], message["event"], message["room"]) == ("emit", wire.BATCH_EVENT, wire.BATCH_ROOM)
    ((rooms, envelope),) = message["data"][0]["items"]
    assert abs(time.time() - envelope.pop("sent_at")) < 60
    assert sorted(rooms) == sorted(wire.session_room(wire.session_digest(k)) for k in keys)
    assert envelope == wire.notification_created(
        {
            "id": row.id,
            "verb": "hello",
            "level": "warning",
            "actor": "bob",
            "target": None,
            "description": "",
            "timestamp": row.timestamp.isoformat(),
            "unread": True,
        }
    )
    for key in keys:
        assert key.encode() not in channel.raw[0], "a session key reached Redis"


def test_a_rerun_of_the_same_event_inserts_nothing_twice(django_user_model, django_capture_on_commit_callbacks):
    users = [django_user_model.objects.create_user(f"u{i}") for i in range(5)]
    event = sending.send_notification(actor=users[0], everyone=True, verb="once", level="info")
    with django_capture_on_commit_callbacks(execute=True):
        fanout.fan_out_event(event_id=event.pk)
    # As if the worker had died after persisting: the task runs again.
    Event.objects.filter(pk=event.pk).update(status=Event.Status.FANNING_OUT)

    with django_capture_on_commit_callbacks(execute=True):
        again = fanout.fan_out_event(event_id=event.pk)

    assert Notification.objects.filter(verb="once").count() == django_user_model.objects.count()
    assert again.rows_persisted == django_user_model.objects.count()


def test_a_chunk_whose_rows_partly_exist_counts_them_and_publishes_only_unread_ones(
    django_user_model, channel, django_capture_on_commit_callbacks
):
    # What a racing attempt leaves: some of the chunk's rows committed, one already read.
    users = [django_user_model.objects.create_user(f"u{i}") for i in range(3)]
    for user in users:
        live_session(user)
    event = sending.send_notification(actor=users[0], everyone=True, verb="raced", level="info")
    existing = Notification.objects.create(
        recipient=users[1], actor=users[0], verb="raced", action_object=event, unread=False
    )

    with django_capture_on_commit_callbacks(execute=True):
        done = fanout.fan_out_event(event_id=event.pk)

    assert (done.status, done.recipients_count, done.rows_persisted) == ("done", 3, 3)
    assert Notification.objects.filter(verb="raced").count() == 3
    assert Notification.objects.get(verb="raced", recipient=users[1]).pk == existing.pk
    (message,) = channel()
    published = {envelope["data"]["id"] for _, envelope in message["data"][0]["items"]}
    expected = set(Notification.objects.filter(verb="raced", unread=True).values_list("pk", flat=True))
    assert published == expected and len(expected) == 2
    assert done.sessions_published == 2


def test_everyone_is_planned_in_chunks_on_the_bulk_queue(
    django_user_model, settings, broker_queue_length, django_capture_on_commit_callbacks
):
    settings.HERALD_FANOUT_CHUNK_SIZE = 3
    django_user_model.objects.bulk_create([django_user_model(username=f"user{i}") for i in range(10)])
    inactive = django_user_model.objects.create_user("gone", is_active=False)
    actor = django_user_model.objects.first()
    event = sending.send_notification(actor=actor, everyone=True, verb="all", level="info")
    active = django_user_model.objects.filter(is_active=True).count()

    planned = fanout.fan_out_event(event_id=event.pk)

    assert planned.chunks_total == -(-active // 3) == len(planned.plan)
    assert planned.status == Event.Status.FANNING_OUT
    assert broker_queue_length("herald.bulk") == planned.chunks_total
    assert not Notification.objects.filter(verb="all").exists()
    # What the bulk workers do, in any order, each chunk once even if delivered twice.
    for index in reversed(range(planned.chunks_total)):
        with django_capture_on_commit_callbacks(execute=True):
            fanout.fan_out_chunk(event_id=event.pk, index=index)
    fanout.fan_out_chunk(event_id=event.pk, index=0)
    done = Event.objects.get(pk=event.pk)
    assert done.status == Event.Status.DONE
    assert Notification.objects.filter(verb="all").count() == active == done.recipients_count == done.rows_persisted
    assert not Notification.objects.filter(recipient=inactive).exists()


def test_small_events_are_routed_to_the_interactive_queue_and_big_ones_to_bulk(django_user_model, settings):
    settings.HERALD_INTERACTIVE_MAX_RECIPIENTS = 2
    alice = django_user_model.objects.create_user("alice")

    def event(**fields) -> Event:
        return Event(actor=alice, verb="x", **fields)

    assert routing.queue_for(event(audience="user", recipient=alice)) == "herald.interactive"
    assert routing.queue_for(event(audience="users", recipient_ids=[1, 2])) == "herald.interactive"
    assert routing.queue_for(event(audience="users", recipient_ids=[1, 2, 3])) == "herald.bulk"
    assert routing.queue_for(event(audience="everyone")) == "herald.bulk"


def test_sending_names_exactly_one_audience(django_user_model):
    user = django_user_model.objects.create_user("alice")
    with pytest.raises(ValueError, match="exactly one"):
        sending.send_notification(actor=user, recipient=user, everyone=True, verb="x", level="info")
    with pytest.raises(ValueError, match="exactly one"):
        sending.send_notification(actor=user, verb="x", level="info")


def test_mark_all_read_publishes_the_covered_id_to_every_live_session(
    django_user_model, channel, django_capture_on_commit_callbacks
):
    alice = django_user_model.objects.create_user("alice")
    key = live_session(alice)
    rows = [Notification.objects.create(recipient=alice, actor=alice, verb=str(i)) for i in range(2)]

    up_to = read_state.mark_all_read(user=alice)
    published = publish.publish_to_user(user_id=alice.pk, envelope=wire.notifications_read(up_to_id=up_to))

    assert up_to == rows[-1].id
    assert published == 1
    (message,) = channel()
    message["data"][0].pop("sent_at")
    assert message["room"] == [wire.session_room(wire.session_digest(key))]
    assert message["data"] == [wire.notifications_read(up_to_id=up_to)]


def test_mark_all_read_with_nothing_to_read_publishes_nothing(django_user_model, django_capture_on_commit_callbacks):
    alice = django_user_model.objects.create_user("alice")
    with django_capture_on_commit_callbacks() as callbacks:
        assert read_state.mark_all_read(user=alice) is None
    assert callbacks == []


def test_a_one_recipient_fan_out_stays_a_handful_of_round_trips(
    django_user_model, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    # Each round trip waits for the database to be scheduled: on a busy machine they add up.
    alice, bob = django_user_model.objects.create_user("alice"), django_user_model.objects.create_user("bob")
    live_session(bob)
    warm = sending.send_notification(actor=alice, recipient=bob, verb="warm", level="info")
    fanout.fan_out_event(event_id=warm.pk)  # fills the content-type cache, as any running worker has
    event = sending.send_notification(actor=alice, recipient=bob, verb="one", level="info")

    # event, plan, recipient, then in one transaction: rows, sessions, chunk, event done.
    with django_assert_max_num_queries(9), django_capture_on_commit_callbacks(execute=True):
        done = fanout.fan_out_event(event_id=event.pk)

    assert (done.status, done.rows_persisted, done.sessions_published) == ("done", 1, 1)
    assert Event.objects.get(pk=event.pk).status == Event.Status.DONE


def test_a_chunk_whose_message_redis_refused_is_published_again_by_the_redrive(
    django_user_model, channel, django_capture_on_commit_callbacks, monkeypatch
):
    alice, bob = django_user_model.objects.create_user("alice"), django_user_model.objects.create_user("bob")
    key = live_session(alice)
    event = sending.send_notification(actor=bob, recipient=alice, verb="in the gap", level="info")
    failures = REGISTRY.get_sample_value("herald_worker_publish_failures_total") or 0
    # Redis gone at the moment of the after-commit publish; the database still answers.
    monkeypatch.setattr(publisher, "_manager", dead_redis_manager())

    with django_capture_on_commit_callbacks(execute=True):
        fanout.fan_out_event(event_id=event.pk)

    event.refresh_from_db()
    assert Notification.objects.filter(recipient=alice).count() == 1  # the row is kept
    assert event.status == Event.Status.FAILED  # ... but the event says it is not done
    assert not event.chunks.exists()
    assert REGISTRY.get_sample_value("herald_worker_publish_failures_total") == failures + 1
    assert channel() == []

    monkeypatch.setattr(publisher, "_manager", None)  # Redis is back
    assert redrive.redrive_stalled_events(older_than_seconds=-1) == [event.pk]
    with django_capture_on_commit_callbacks(execute=True):
        fanout.fan_out_event(event_id=event.pk)

    event.refresh_from_db()
    assert (event.status, event.rows_persisted, event.sessions_published) == (Event.Status.DONE, 1, 1)
    assert Notification.objects.filter(recipient=alice).count() == 1  # nothing doubled
    (message,) = channel()
    ((rooms, envelope),) = message["data"][0]["items"]
    assert rooms == [wire.session_room(wire.session_digest(key))]
    assert envelope["data"]["verb"] == "in the gap"


def dead_redis_manager():
    return publisher.JsonRedisManager(
        "redis://127.0.0.1:1/0", channel="herald-test-nowhere", write_only=True, redis_options={"socket_timeout": 1}
    )


def test_a_retried_state_update_tells_the_tabs_to_refetch_rather_than_replay(django_user_model, channel):
    """A retry comes seconds later: "read" replayed after the user marked it unread again would be wrong."""
    from herald_live import tasks

    alice = django_user_model.objects.create_user("alice")
    live_session(alice)
    stale = wire.notification_read(notification_id=7)

    for retries in (0, 1):  # the first run, then a retry; in process (a worker would close this test's database)
        tasks.publish_to_user.push_request(retries=retries)
        try:
            tasks.publish_to_user.run(alice.pk, stale)
        finally:
            tasks.publish_to_user.pop_request()

    first, retried = channel()
    assert first["data"][0]["type"] == stale["type"] and first["data"][0]["data"] == {"id": 7}
    assert retried["data"][0]["type"] == wire.notifications_changed()["type"]

"""The chunked fan-out (herald_live/delivery/fanout.py), called directly, publishing to the real Redis channel."""

from __future__ import annotations

import time

import pytest
from notifications.models import Notification

from herald_live import wire
from herald_live.actions import sending
from herald_live.delivery import fanout
from herald_live.models import Event
from tests.support.sessions import live_session

pytestmark = pytest.mark.django_db


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

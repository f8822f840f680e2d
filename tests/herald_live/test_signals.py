"""Existing code goes live unchanged: django-notifications' notify.send and single-row saves are published."""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models.signals import post_save
from django.utils import timezone
from notifications.base.models import notify_handler
from notifications.models import Notification
from notifications.signals import notify
from user_sessions.models import Session

from herald_live import signals, wire
from herald_live.delivery import publish

pytestmark = pytest.mark.django_db

QUEUE = "herald.interactive"


def queued(redis_client, queue: str = QUEUE) -> list[dict]:
    """The task messages waiting in a broker queue, oldest first (kombu's JSON envelopes)."""
    raw = redis_client.lrange(f"{os.environ['HERALD_BROKER_KEY_PREFIX']}{queue}", 0, -1)
    return [json.loads(item) for item in reversed(raw)]


def task_calls(redis_client, name: str, queue: str = QUEUE) -> list[list]:
    calls = []
    for message in queued(redis_client, queue):
        if message["headers"]["task"] == name:
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            calls.append(args)
    return calls


def test_notify_send_keeps_its_rows_and_return_value_and_publishes_them_after_commit(
    alice, bob, redis_client, broker_queue_length, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = notify.send(bob, recipient=alice, verb="commented on your post", level="warning")
        assert task_calls(redis_client, "herald.publish_notifications") == []  # nothing before commit

    ((receiver, rows),) = result
    assert receiver is signals.notify_and_publish
    stored = Notification.objects.get(recipient=alice)
    assert [row.pk for row in rows] == [stored.pk]
    assert (stored.verb, stored.level, stored.actor) == ("commented on your post", "warning", bob)
    assert len(callbacks) == 1
    assert task_calls(redis_client, "herald.publish_notifications") == [[[stored.pk]]]


def test_notify_send_to_a_queryset_is_one_publish_for_all_its_rows(
    alice, bob, django_user_model, redis_client, broker_queue_length, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notify.send(bob, recipient=django_user_model.objects.all(), verb="release")
    ids = sorted(Notification.objects.filter(verb="release").values_list("pk", flat=True))
    assert len(ids) == 2
    (call,) = task_calls(redis_client, "herald.publish_notifications")
    assert sorted(call[0]) == ids


def test_exactly_one_handler_writes_rows_whichever_app_connects_last(alice, bob):
    # django-notifications connecting its handler again (its ready() after Herald's) changes nothing.
    notify.connect(notify_handler, dispatch_uid=signals.STOCK_HANDLER_UID)
    signals.connect()
    notify.connect(notify_handler, dispatch_uid=signals.STOCK_HANDLER_UID)

    result = notify.send(bob, recipient=alice, verb="once")

    assert len(result) == 1
    assert Notification.objects.filter(recipient=alice, verb="once").count() == 1


def test_a_row_saved_read_unread_or_deleted_elsewhere_is_published_as_it_is_then(
    alice, bob, redis_client, broker_queue_length, django_capture_on_commit_callbacks
):
    notify.send(bob, recipient=alice, verb="ping")
    row = Notification.objects.get(recipient=alice)
    with django_capture_on_commit_callbacks(execute=True):
        row.mark_as_read()
        row.mark_as_unread()
        row.emailed = True
        row.save(update_fields=["emailed"])  # nothing a live client shows: no publish
        row.deleted = True
        row.save()
    # The worker reads the row's state when it runs: two quick changes can never land in the wrong order.
    assert task_calls(redis_client, "herald.publish_notification_state") == [[row.pk]] * 3
    assert publish.publish_notification_state(notification_id=row.pk) == 0  # alice has no live session


def test_the_published_state_is_the_rows_state_when_the_worker_runs(alice, bob, redis_client):
    notify.send(bob, recipient=alice, verb="ping")
    row = Notification.objects.get(recipient=alice)
    Session.objects.create(
        session_key="k" * 32, session_data="", expire_date=timezone.now() + timedelta(hours=1), user=alice
    )
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(wire.socketio_channel(settings.HERALD_CHANNEL_PREFIX))
    Notification.objects.filter(pk=row.pk).update(unread=False)
    assert publish.publish_notification_state(notification_id=row.pk) == 1
    Notification.objects.filter(pk=row.pk).update(unread=True)
    assert publish.publish_notification_state(notification_id=row.pk) == 1
    Notification.objects.filter(pk=row.pk).update(deleted=True)
    assert publish.publish_notification_state(notification_id=row.pk) == 1
    row_id = row.pk
    row.delete()
    assert publish.publish_notification_state(notification_id=row_id) == 0
    received, deadline = [], time.monotonic() + 2
    while len(received) < 3 and time.monotonic() < deadline:
        # get_message() also answers None for the subscribe confirmation it swallows.
        if message := pubsub.get_message(timeout=0.1):
            received.append(json.loads(message["data"])["data"][0])
    pubsub.close()
    row.pk = row_id
    assert [(e["type"], e["data"]["id"]) for e in received] == [
        (wire.NOTIFICATION_READ, row.pk),
        (wire.NOTIFICATION_UNREAD, row.pk),
        (wire.NOTIFICATION_DELETED, row.pk),
    ]
    assert received[1]["data"]["verb"] == "ping"


def test_a_hard_delete_publishes_nothing_so_that_cascades_stay_fast(alice, bob, redis_client, broker_queue_length):
    for number in range(3):
        notify.send(bob, recipient=alice, verb=f"n{number}")
    Notification.objects.filter(recipient=alice).delete()
    alice.delete()
    assert task_calls(redis_client, "herald.publish_notification_state") == []
    assert task_calls(redis_client, "herald.publish_to_user") == []


def test_loaddata_saves_publish_nothing(alice, bob, redis_client, broker_queue_length):
    notify.send(bob, recipient=alice, verb="fixture")
    row = Notification.objects.get(recipient=alice)
    post_save.send(sender=Notification, instance=row, created=False, raw=True)
    assert task_calls(redis_client, "herald.publish_to_user") == []


def test_publish_notifications_reaches_live_sessions_only_for_unread_rows(alice, bob):

    notify.send(bob, recipient=alice, verb="fresh")
    notify.send(bob, recipient=alice, verb="already read")
    fresh = Notification.objects.get(verb="fresh")
    Notification.objects.filter(verb="already read").update(unread=False)
    read = Notification.objects.get(verb="already read")
    Session.objects.create(
        session_key="k" * 32, session_data="", expire_date=timezone.now() + timedelta(hours=1), user=alice
    )

    assert publish.publish_notifications(notification_ids=[fresh.pk, read.pk]) == 1
    assert publish.publish_notifications(notification_ids=[read.pk]) == 0

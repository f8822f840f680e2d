"""Existing code goes live unchanged: django-notifications' notify.send and single-row saves are published."""

from __future__ import annotations

import base64
import json
import os
from datetime import timedelta

import pytest
from django.db.models.signals import post_save
from django.utils import timezone
from notifications.base.models import notify_handler
from notifications.models import Notification
from notifications.signals import notify
from user_sessions.models import Session

from herald_live import services, signals, wire

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


def test_a_row_saved_read_unread_or_deleted_elsewhere_is_published_to_its_recipient(
    alice, bob, redis_client, broker_queue_length, django_capture_on_commit_callbacks
):
    notify.send(bob, recipient=alice, verb="ping")
    row = Notification.objects.get(recipient=alice)
    with django_capture_on_commit_callbacks(execute=True):
        row.mark_as_read()
        row.mark_as_unread()
        row_id = row.pk
        row.delete()

    envelopes = [args[1] for args in task_calls(redis_client, "herald.publish_to_user")]
    assert [args[0] for args in task_calls(redis_client, "herald.publish_to_user")] == [alice.pk] * 3
    assert [e["type"] for e in envelopes] == [
        wire.NOTIFICATION_READ,
        wire.NOTIFICATION_UNREAD,
        wire.NOTIFICATION_DELETED,
    ]
    assert envelopes[0]["data"] == {"id": row_id}
    assert envelopes[1]["data"]["id"] == row_id
    assert envelopes[1]["data"]["verb"] == "ping"
    assert envelopes[1]["data"]["actor"] == bob.username
    assert envelopes[2]["data"] == {"id": row_id}


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

    assert services.publish_notifications(notification_ids=[fresh.pk, read.pk]) == 1
    assert services.publish_notifications(notification_ids=[read.pk]) == 0

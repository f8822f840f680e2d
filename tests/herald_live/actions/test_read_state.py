"""Marking read (herald_live/actions/read_state.py), published to the real Redis channel by the worker's publish."""

from __future__ import annotations

import pytest
from notifications.models import Notification

from herald_live import wire
from herald_live.actions import read_state
from herald_live.delivery import publish
from tests.support.sessions import live_session

pytestmark = pytest.mark.django_db


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

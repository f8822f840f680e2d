"""Publishing from workers (herald_live/delivery/publish.py): a refused publish goes back to the re-drive; a retried
state update makes the tabs refetch."""

from __future__ import annotations

import pytest
from notifications.models import Notification
from prometheus_client import REGISTRY

from herald_live import wire
from herald_live.actions import sending
from herald_live.delivery import fanout, redrive
from herald_live.infra import publisher
from herald_live.models import Event
from tests.support.sessions import live_session

pytestmark = pytest.mark.django_db


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

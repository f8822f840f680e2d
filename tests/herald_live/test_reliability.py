"""Idempotency, re-drive, rate limits, dependency failures and password changes, at the service and view level."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery import current_app
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from notifications.models import Notification
from user_sessions.models import Session

from herald_live.delivery import redrive
from herald_live.models import Event

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


def test_the_database_refuses_a_second_row_for_the_same_event_and_recipient(alice, bob):
    event = Event.objects.create(actor=bob, audience="user", recipient=alice, verb="x")
    Notification.objects.create(recipient=alice, actor=bob, verb="x", action_object=event)

    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(recipient=alice, actor=bob, verb="x", action_object=event)
    # Other senders' notifications about one object are not constrained.
    Notification.objects.create(recipient=alice, actor=bob, verb="y", action_object=bob)
    Notification.objects.create(recipient=alice, actor=bob, verb="y", action_object=bob)
    assert Notification.objects.filter(action_object_content_type=ContentType.objects.get_for_model(bob)).count() == 2


def test_the_redrive_enqueues_stalled_events_only(alice, bob, broker_queue_length):
    old = timezone.now() - timedelta(minutes=10)
    stalled = [Event.objects.create(actor=bob, audience="user", recipient=alice, verb=str(i)) for i in range(3)]
    Event.objects.filter(pk=stalled[1].pk).update(status=Event.Status.FANNING_OUT)
    Event.objects.filter(pk__in=[e.pk for e in stalled]).update(updated_at=old)
    done = Event.objects.create(actor=bob, audience="user", recipient=alice, verb="done", status=Event.Status.DONE)
    Event.objects.filter(pk=done.pk).update(updated_at=old)
    Event.objects.create(actor=bob, audience="user", recipient=alice, verb="fresh")
    before = broker_queue_length("herald.interactive")

    enqueued = redrive.redrive_stalled_events(older_than_seconds=60)

    assert enqueued == [e.pk for e in stalled]
    # The two still queued are a drain's (one task for both); the one stuck part-way gets a task of its own.
    assert broker_queue_length("herald.interactive") == before + 2
    assert redrive.redrive_stalled_events(older_than_seconds=60) == [], "a re-driven event waits for its attempt"


def test_sends_beyond_the_rate_limit_get_429_and_record_nothing(client, alice, bob, settings):
    settings.HERALD_SEND_RATE_LIMIT = 2
    settings.HERALD_SEND_RATE_WINDOW_SECONDS = 3600
    client.force_login(bob)

    statuses = [
        client.post("/notifications/send/", {"recipient": "alice", "message": str(i)}, **JSON).status_code
        for i in range(3)
    ]
    refused = client.post("/notifications/send/", {"recipient": "alice", "message": "more"}, **JSON)

    assert statuses == [202, 202, 429]
    assert refused.status_code == 429
    assert "Too many sends" in refused.json()["error"]
    assert 0 < int(refused["Retry-After"]) <= 3601
    assert Event.objects.count() == 2


def test_a_dead_broker_gets_a_clear_503_and_nothing_is_recorded(alice, bob, monkeypatch):
    client = Client(raise_request_exception=False)  # as a server would: the handler answers
    client.force_login(bob)
    # Herald asks the host's Celery app for its broker (it has read CELERY_BROKER_URL once, at start).
    monkeypatch.setattr(current_app.conf, "broker_url", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    response = client.post("/notifications/send/", {"recipient": "alice", "message": "hi"}, **JSON)
    page = client.post("/notifications/send/", {"recipient": "alice", "message": "hi"})

    assert response.status_code == 503
    assert "Nothing was changed" in response.json()["error"]
    assert response["Retry-After"] == "5"
    assert page.status_code == 503 and b"Traceback" not in page.content
    assert not Event.objects.exists()


def test_sends_probe_the_broker_once_a_second_and_again_after_an_enqueue_failed(monkeypatch):
    """The probe was a round trip in every send (issue 13); a broker that dies in between is what the
    enqueue's own failure handles (the event waits for the re-drive), and that failure forgets the answer."""
    from herald_live.infra import health

    probes = []
    monkeypatch.setattr(health, "broker_reachable", lambda: probes.append(1) or True)
    clock = [1000.0]
    monkeypatch.setattr(health.time, "monotonic", lambda: clock[0])

    assert health.broker_answered_recently() and health.broker_answered_recently()
    assert len(probes) == 1
    clock[0] += health.ANSWER_TRUSTED_SECONDS
    assert health.broker_answered_recently() and len(probes) == 2
    health.forget_broker_answer()
    assert health.broker_answered_recently() and len(probes) == 3
    monkeypatch.setattr(health, "broker_reachable", lambda: False)
    health.forget_broker_answer()
    assert not health.broker_answered_recently() and not health.broker_answered_recently()


def test_a_password_change_ends_every_other_session(client, alice, django_capture_on_commit_callbacks):
    client.force_login(alice)
    others = []
    for i in range(2):
        others.append(f"other{i:033d}")
        Session.objects.create(
            session_key=others[-1],
            session_data="",
            user=alice,
            user_agent="t",
            expire_date=timezone.now() + timedelta(1),
        )

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            "/accounts/password/",
            {
                "old_password": "pw-alice-123",
                "new_password1": "a new long pass 42",
                "new_password2": "a new long pass 42",
            },
        )

    assert response.status_code == 302
    assert not Session.objects.filter(session_key__in=others).exists()
    assert len(callbacks) >= 2, "each ended session's sockets are dropped"
    assert client.get("/herald/socket-token/").status_code == 200, "the one who changed it stays logged in"
    assert Session.objects.filter(user=alice).count() == 1


def test_logins_do_not_end_sessions(alice):
    for client in (Client(), Client()):
        assert client.login(username="alice", password="pw-alice-123")

    assert Session.objects.filter(user=alice).count() == 2


def test_oversized_bodies_are_refused_before_any_view(client, bob):
    client.force_login(bob)

    response = client.post("/notifications/send/", {"recipient": "alice", "message": "x" * 70_000}, **JSON)

    assert response.status_code == 400
    assert not Event.objects.exists()

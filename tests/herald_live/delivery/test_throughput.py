"""Issue 13, interactive throughput: fewer statements per one-recipient send and fan-out, same guarantees.

Each statement is a round trip that waits for the database to be scheduled; on a busy 2-core machine they
set the ceiling of one-recipient events per second (docs/benchmark.md, "Interactive throughput").
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from notifications.models import Notification

from herald_live.actions import sending, service_tokens
from herald_live.delivery import drain, fanout, routing
from herald_live.models import Event, EventChunk
from herald_live.selectors import sessions as session_selectors
from tests.support.sessions import live_session

pytestmark = pytest.mark.django_db


def _statements(captured, table: str) -> list[str]:
    return [q["sql"].split(" ", 1)[0] for q in captured if f'"{table}"' in q["sql"]]


def test_an_api_send_records_its_event_in_one_statement_with_token_and_fingerprint(
    client, django_user_model, settings, django_capture_on_commit_callbacks
):
    settings.HERALD_API_RATE_LIMIT = 0
    bob = django_user_model.objects.create_user("bob")
    token = service_tokens.create(name="billing")
    body = json.dumps({"recipients": [bob.pk], "verb": "shipped"})

    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=False) as enqueued:
        response = client.post(
            "/herald/api/v1/events",
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_IDEMPOTENCY_KEY="order-1",
        )

    assert response.status_code == 202 and response.json()["status"] == "queued"
    # Idempotency lookup, then the INSERT: no UPDATE of the new row, no read of it for the answer.
    statements = _statements(queries.captured_queries, "herald_live_event")
    assert "UPDATE" not in statements and statements.count("INSERT") == 1 and statements[-1] == "INSERT"
    assert _statements(queries.captured_queries, "herald_live_eventchunk") == []
    event = Event.objects.get(pk=response.json()["event_id"])
    assert event.service_token.name == "billing" and len(event.idempotency_fingerprint) == 64
    assert len(enqueued) == 1  # the fan-out, after commit
    # The same key and body: the same event, replayed; no second row.
    again = client.post(
        "/herald/api/v1/events",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_IDEMPOTENCY_KEY="order-1",
    )
    assert again.status_code == 202 and again.json()["event_id"] == event.pk and Event.objects.count() == 1


def test_a_task_of_its_own_for_a_one_user_event_claims_it_first_so_that_a_drain_never_runs_it_too(
    django_user_model, django_capture_on_commit_callbacks, monkeypatch
):
    """Sends to one user are a drain's (herald_live/delivery/drain.py); a task of their own still reaches them (one
    enqueued before drains existed, or the re-drive's). Whoever moves the event out of "queued" first fans it out."""
    alice, bob = django_user_model.objects.create_user("alice"), django_user_model.objects.create_user("bob")
    live_session(bob)
    event, _ = sending.record_event(
        actor=alice, audience=Event.Audience.USERS, recipient_ids=[bob.pk], verb="v", level="info"
    )

    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        fanout.fan_out_event(event_id=event.pk)

    # The claim, then plan, counts and "done" in the chunk's transaction.
    assert _statements(queries.captured_queries, "herald_live_event").count("UPDATE") == 2
    stored = Event.objects.get(pk=event.pk)
    assert (stored.status, stored.plan, stored.chunks_total, stored.rows_persisted) == ("done", [[0, 1]], 1, 1)
    assert Notification.objects.filter(recipient=bob, verb="v").count() == 1

    # A drain takes the next one between the task's read of it and the task's claim: the task leaves it.
    raced, _ = sending.record_event(
        actor=alice, audience=Event.Audience.USER, recipient=bob, verb="raced", level="info"
    )
    real = routing.coalesced

    def a_drain_runs_meanwhile(event):
        drain.fan_out_pending()
        return real(event)

    monkeypatch.setattr(routing, "coalesced", a_drain_runs_meanwhile)
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        fanout.fan_out_event(event_id=raced.pk)

    # Only the drain wrote rows: the task never got as far as its own INSERT (on PostgreSQL, running both at
    # once could deadlock, the drain holding the event and the task the row).
    assert _statements(queries.captured_queries, "notifications_notification").count("INSERT") == 1

    assert Notification.objects.filter(recipient=bob, verb="raced").count() == 1
    assert EventChunk.objects.filter(event_id=raced.pk).count() == 1
    assert Event.objects.get(pk=raced.pk).status == "done"


def test_a_one_recipient_fan_out_that_failed_is_redriven_to_exactly_one_row(
    django_user_model, django_capture_on_commit_callbacks, monkeypatch
):
    """Holds the guarantee across the change (it passes before it too): a failed attempt leaves the event for
    the re-drive, and the next attempt stores exactly one row."""
    alice, bob = django_user_model.objects.create_user("alice"), django_user_model.objects.create_user("bob")
    live_session(bob)
    event, _ = sending.record_event(
        actor=alice, audience=Event.Audience.USERS, recipient_ids=[bob.pk], verb="w", level="info"
    )
    real = session_selectors.live_session_rooms

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(session_selectors, "live_session_rooms", broken)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        fanout.fan_out_event(event_id=event.pk)
    assert Event.objects.get(pk=event.pk).status == Event.Status.FAILED
    assert not Notification.objects.filter(verb="w").exists() and not EventChunk.objects.exists()

    monkeypatch.setattr(session_selectors, "live_session_rooms", real)
    with django_capture_on_commit_callbacks(execute=True):
        fanout.fan_out_event(event_id=event.pk)
    with django_capture_on_commit_callbacks(execute=True):
        fanout.fan_out_event(event_id=event.pk)  # a late duplicate of the task

    assert Event.objects.get(pk=event.pk).status == Event.Status.DONE
    assert Notification.objects.filter(recipient=bob, verb="w").count() == 1

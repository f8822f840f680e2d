"""The interactive path (issue 13): queued one-user events fanned out many to a transaction, one publish."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from notifications.models import Notification

from herald_live import wire
from herald_live.actions import sending
from herald_live.delivery import drain, drain_mark, fanout, redrive
from herald_live.infra import publisher
from herald_live.models import Event, EventChunk
from herald_live.selectors import events as event_selectors
from tests.support.sessions import live_session

pytestmark = pytest.mark.django_db


def _queued(sender, recipients, verb: str) -> list[Event]:
    return [
        sending.record_event(
            actor=sender, audience=Event.Audience.USER, recipient=user, verb=f"{verb} {i}", level="info"
        )[0]
        for i, user in enumerate(recipients)
    ]


def _users(django_user_model, count: int, prefix: str = "u"):
    return [django_user_model.objects.create_user(f"{prefix}{i}") for i in range(count)]


def test_queued_events_become_one_row_each_and_one_publish(
    django_user_model, channel, django_capture_on_commit_callbacks
):
    sender, *people = _users(django_user_model, 6)
    rooms = {user.pk: wire.session_room(wire.session_digest(live_session(user))) for user in people[:4]}
    events = _queued(sender, people, "hello")

    with django_capture_on_commit_callbacks(execute=True):
        assert drain.fan_out_pending() == 5

    for event, user in zip(events, people, strict=True):
        stored = Event.objects.get(pk=event.pk)
        row = Notification.objects.get(recipient=user)
        assert (stored.status, stored.rows_persisted, stored.recipients_count) == ("done", 1, 1)
        assert stored.sessions_published == (1 if user.pk in rooms else 0)
        assert row.verb == event.verb and row.action_object_object_id == str(event.pk)
        assert event_selectors.event_status(event_id=event.pk)["chunks_done"] == 1
    messages = channel()
    assert len(messages) == 1  # one Redis message for the whole batch
    items = messages[0]["data"][0]["items"]
    delivered = {tuple(rooms_): envelope["data"]["verb"] for rooms_, envelope in items}
    assert delivered == {(rooms[user.pk],): f"hello {i}" for i, user in enumerate(people[:4])}
    # A second drain finds nothing: the events are done.
    assert drain.fan_out_pending() == 0


def test_a_batch_costs_the_same_statements_for_five_events_or_fifty(
    django_user_model, django_capture_on_commit_callbacks
):
    sender, *people = _users(django_user_model, 56)
    for user in people:
        live_session(user)

    def statements(count: int) -> int:
        _queued(sender, people[:count], f"batch of {count}")
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
            assert drain.fan_out_pending() == count
        return len(queries.captured_queries)

    statements(1)  # warms the content-type cache, as any running worker has it
    assert statements(50) == statements(5)


def test_an_inactive_recipient_gets_no_row_and_the_event_is_done(django_user_model, django_capture_on_commit_callbacks):
    sender, gone = _users(django_user_model, 2)
    (event,) = _queued(sender, [gone], "nobody")
    gone.is_active = False
    gone.save()

    with django_capture_on_commit_callbacks(execute=True):
        drain.fan_out_pending(batch_size=1)

    stored = Event.objects.get(pk=event.pk)
    assert (stored.status, stored.recipients_count, stored.rows_persisted) == ("done", 0, 0)
    assert not Notification.objects.exists()


def test_a_row_written_by_a_racing_redrive_is_found_not_doubled(
    django_user_model, channel, django_capture_on_commit_callbacks
):
    sender, bob = _users(django_user_model, 2)
    live_session(bob)
    (event,) = _queued(sender, [bob], "raced")
    # The re-drive's per-event fan-out wrote the row first, and was then stopped before marking the event done.
    with django_capture_on_commit_callbacks(execute=False):
        fanout.fan_out_event(event_id=event.pk)
    Event.objects.filter(pk=event.pk).update(status=Event.Status.QUEUED)
    EventChunk.objects.filter(event_id=event.pk).delete()

    with django_capture_on_commit_callbacks(execute=True):
        assert drain.fan_out_pending() == 1

    assert Notification.objects.filter(recipient=bob).count() == 1
    assert Event.objects.get(pk=event.pk).rows_persisted == 1
    (message,) = channel()
    (item,) = message["data"][0]["items"]
    assert item[1]["data"]["id"] == Notification.objects.get(recipient=bob).pk


def test_a_refused_publish_leaves_the_batch_to_the_redrive_which_publishes_each_row_once(
    django_user_model,
    channel,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    sender, *people = _users(django_user_model, 3)
    for user in people:
        live_session(user)
    events = _queued(sender, people, "later")

    def refused(**kwargs):
        raise publisher.PublishFailed("Redis did not take the message: ConnectionError")

    monkeypatch.setattr(publisher, "emit_batch", refused)
    with django_capture_on_commit_callbacks(execute=True):
        drain.fan_out_pending()
    assert {Event.objects.get(pk=e.pk).status for e in events} == {"failed"}
    assert not EventChunk.objects.exists() and Notification.objects.count() == 2
    monkeypatch.undo()

    assert sorted(redrive.redrive_stalled_events(older_than_seconds=-1)) == [e.pk for e in events]
    for event in events:  # what the workers then run, one task per event
        with django_capture_on_commit_callbacks(execute=True):
            fanout.fan_out_event(event_id=event.pk)

    assert {Event.objects.get(pk=e.pk).status for e in events} == {"done"}
    assert Notification.objects.count() == 2
    published = [item[1]["data"]["id"] for message in channel() for item in message["data"][0]["items"]]
    assert sorted(published) == sorted(Notification.objects.values_list("pk", flat=True))


def test_sends_schedule_one_drain_until_it_finds_nothing(
    django_user_model, broker_queue_length, django_capture_on_commit_callbacks
):
    sender, *people = _users(django_user_model, 5)
    before = broker_queue_length("herald.interactive")
    with django_capture_on_commit_callbacks(execute=True):
        _queued(sender, people[:3], "first")
    assert broker_queue_length("herald.interactive") == before + 1  # three sends, one drain queued

    drain_mark.take_pending_fan_out_mark()  # what a drain does once a look finds nothing
    with django_capture_on_commit_callbacks(execute=True):
        _queued(sender, people[3:], "second")
    assert broker_queue_length("herald.interactive") == before + 2  # a send after that asks for another


def test_a_busy_drain_keeps_the_mark_and_takes_what_arrives_meanwhile(
    django_user_model, settings, broker_queue_length, monkeypatch, django_capture_on_commit_callbacks
):
    """Under load, one running drain takes every send: the sends enqueue no task, and none is left queued."""
    settings.HERALD_DRAIN_PACE_MS = 0
    sender, *people = _users(django_user_model, 5)
    with django_capture_on_commit_callbacks(execute=True):
        first = _queued(sender, people[:1], "first")
    before = broker_queue_length("herald.interactive")
    looks, ttls = [], []
    real = drain.fan_out_pending
    client, key = drain_mark.pending_mark()

    def look(**kwargs):
        ttls.append(client.ttl(key))
        looks.append(real(**kwargs))
        if len(looks) <= 2:  # two sends land while the drain works
            with django_capture_on_commit_callbacks(execute=True):
                first.extend(_queued(sender, people[len(looks) : len(looks) + 1], f"during {len(looks)}"))
        return looks[-1]

    monkeypatch.setattr(drain, "fan_out_pending", look)
    # Not inside a capture of its own: nested captures would run the sends' callbacks twice.
    assert drain.drain() == 3

    assert {Event.objects.get(pk=e.pk).status for e in first} == {"done"}
    assert looks == [1, 1, 1, 0, 0]  # found work three times; nothing, mark down, nothing again
    # Held for a few seconds at a time: a drain whose worker dies does not hold the sends up for long.
    assert ttls[:4] and all(0 < ttl <= drain_mark.HELD_MARK_SECONDS for ttl in ttls[:4]), ttls
    assert ttls[4] == -2  # the last look: the mark is down
    assert broker_queue_length("herald.interactive") == before  # the sends counted on the running drain
    with django_capture_on_commit_callbacks(execute=True):
        _queued(sender, people[3:], "after")
    assert broker_queue_length("herald.interactive") == before + 1  # the drain is over: a send asks for one


def test_a_send_that_saw_the_mark_just_before_it_went_down_is_taken_by_the_last_look(
    django_user_model, settings, broker_queue_length, monkeypatch, django_capture_on_commit_callbacks
):
    settings.HERALD_DRAIN_PACE_MS = 0
    sender, bob = _users(django_user_model, 2)
    late = []
    real_take = drain_mark.take_pending_fan_out_mark

    def send_then_take() -> None:
        # Committed while the mark is still up: its send enqueues nothing and counts on this drain.
        if not late:
            with django_capture_on_commit_callbacks(execute=True):
                late.extend(_queued(sender, [bob], "late"))
        real_take()

    drain_mark.hold_pending_fan_out_mark()
    before = broker_queue_length("herald.interactive")
    monkeypatch.setattr(drain_mark, "take_pending_fan_out_mark", send_then_take)
    assert drain.drain() == 1

    assert Event.objects.get(pk=late[0].pk).status == "done"
    assert broker_queue_length("herald.interactive") == before


def test_a_drain_that_keeps_finding_work_hands_over_to_a_new_task(
    django_user_model, broker_queue_length, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(drain, "MAX_SECONDS", -1)
    sender, *people = _users(django_user_model, 3)
    with django_capture_on_commit_callbacks(execute=True):
        events = _queued(sender, people, "hi")
    before = broker_queue_length("herald.interactive")
    with django_capture_on_commit_callbacks(execute=True):
        assert drain.drain() == 2

    assert {Event.objects.get(pk=e.pk).status for e in events} == {"done"}
    # Its successor is queued, and the mark stays up for it: a send now enqueues nothing more.
    assert broker_queue_length("herald.interactive") == before + 1
    with django_capture_on_commit_callbacks(execute=True):
        _queued(sender, people[:1], "again")
    assert broker_queue_length("herald.interactive") == before + 1


def test_short_lists_join_the_drain_and_long_ones_keep_a_task_of_their_own(
    django_user_model, settings, channel, broker_queue_length, django_capture_on_commit_callbacks
):
    settings.HERALD_INTERACTIVE_MAX_RECIPIENTS = 3
    sender, *people = _users(django_user_model, 5)
    for user in people:
        live_session(user)
    before, before_bulk = broker_queue_length("herald.interactive"), broker_queue_length("herald.bulk")
    with django_capture_on_commit_callbacks(execute=True):
        short, _ = sending.record_event(
            actor=sender,
            audience=Event.Audience.USERS,
            recipient_ids=[u.pk for u in people[:3]],
            verb="few",
            level="info",
        )
        (single,) = _queued(sender, people[3:], "one")
        long, _ = sending.record_event(
            actor=sender, audience=Event.Audience.USERS, recipient_ids=[u.pk for u in people], verb="many", level="info"
        )
    # The two drained events asked for one drain; the long list has its own task, on the bulk queue.
    assert broker_queue_length("herald.interactive") == before + 1
    assert broker_queue_length("herald.bulk") == before_bulk + 1

    with django_capture_on_commit_callbacks(execute=True):
        assert drain.fan_out_pending() == 2

    stored = Event.objects.get(pk=short.pk)
    assert (stored.status, stored.plan, stored.recipients_count, stored.rows_persisted, stored.sessions_published) == (
        "done",
        [[0, 3]],
        3,
        3,
        3,
    )
    assert Event.objects.get(pk=single.pk).status == "done" and Event.objects.get(pk=long.pk).status == "queued"
    (message,) = channel()
    verbs = sorted(item[1]["data"]["verb"] for item in message["data"][0]["items"])
    assert verbs == ["few", "few", "few", "one 0"]


def test_a_batch_takes_lists_up_to_a_bounded_number_of_rows(
    django_user_model, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """Long lists in one batch would make one huge INSERT (and one SQLite cannot take): rows per batch are bounded."""
    settings.HERALD_INTERACTIVE_MAX_RECIPIENTS = 3
    monkeypatch.setattr(drain, "ROWS_PER_BATCH", 6)  # two lists of three a batch
    sender, *people = _users(django_user_model, 4)
    events = [
        sending.record_event(
            actor=sender,
            audience=Event.Audience.USERS,
            recipient_ids=[u.pk for u in people],
            verb=f"l{i}",
            level="info",
        )[0]
        for i in range(5)
    ]

    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        assert drain.fan_out_pending() == 5

    inserts = [q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "notifications_notification"')]
    assert len(inserts) == 3  # batches of 2, 2 and 1 lists
    assert {Event.objects.get(pk=e.pk).rows_persisted for e in events} == {3}
    assert Notification.objects.count() == 15


def test_a_drain_that_fails_asks_for_another_before_it_gives_up(
    django_user_model, broker_queue_length, monkeypatch, django_capture_on_commit_callbacks
):
    sender, bob = _users(django_user_model, 2)
    (event,) = _queued(sender, [bob], "later")
    before = broker_queue_length("herald.interactive")

    def database_gone(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(drain, "_fan_out_batch", database_gone)
    with pytest.raises(RuntimeError):
        drain.drain()

    # Its events are still queued, and another drain is on its way (the sends that saw the mark enqueue none).
    assert Event.objects.get(pk=event.pk).status == "queued"
    assert broker_queue_length("herald.interactive") == before + 1

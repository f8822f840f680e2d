"""Herald's tasks are queued by name (herald_live/infra/jobs.py): the names are exactly tasks.py's, and a message
queued by name is what the task's own apply_async would have sent, on the real broker."""

from __future__ import annotations

import uuid

import pytest
from celery import current_app
from django.db import transaction

from herald_live import tasks, wire
from herald_live.infra import jobs
from tests.support import broker
from tests.support.sessions import live_session


@pytest.fixture
def queue(redis_client):
    """A broker queue of this test's own; returns a reader of its messages, oldest first."""
    name = f"herald.jobs-test-{uuid.uuid4().hex[:8]}"

    def messages() -> list[dict]:
        return broker.messages(redis_client, name)

    messages.name = name
    yield messages
    redis_client.delete(broker.queue_key(name))


def test_the_names_are_exactly_the_tasks_that_tasks_py_defines_and_the_worker_registers():
    defined = {value.name for value in vars(tasks).values() if hasattr(value, "apply_async")}
    assert defined == jobs.TASK_NAMES == tasks.HERALD_TASKS
    assert jobs.TASK_NAMES <= set(current_app.tasks)


def test_a_task_queued_by_name_is_the_message_its_apply_async_sends(queue):
    jobs.enqueue(jobs.FAN_OUT_CHUNK, 41, 3, queue=queue.name)
    tasks.fan_out_chunk.apply_async((41, 3), queue=queue.name)

    by_name, by_task = queue()
    for message in (by_name, by_task):
        assert (message["task"], message["args"], message["kwargs"]) == ("herald.fan_out_chunk", [41, 3], {})
        assert message["content_type"] == "application/json"
    assert by_name["eta"] is by_task["eta"] is None


def test_keyword_arguments_and_a_countdown_travel(queue):
    jobs.enqueue(jobs.SEND_PUSH, [7, 8], kwargs={"pairs": [[7, 1]], "attempt": 2}, queue=queue.name, countdown=30)

    (message,) = queue()
    assert message["task"] == "herald.send_push"
    assert (message["args"], message["kwargs"]) == ([[7, 8]], {"pairs": [[7, 1]], "attempt": 2})
    assert message["eta"] is not None


def test_a_name_that_is_no_herald_task_is_refused_before_anything_is_sent(queue):
    with pytest.raises(ValueError, match="not a Herald task: 'herald.fan_outt'"):
        jobs.enqueue("herald.fan_outt", 1, queue=queue.name)
    assert queue() == []


@pytest.mark.django_db(transaction=True)
def test_a_live_update_is_queued_after_commit_only(queue):
    with transaction.atomic():
        jobs.enqueue_on_commit(jobs.PUBLISH_TO_USER, 5, {"type": "x"}, queue=queue.name)
        assert queue() == []
    (message,) = queue()
    assert (message["task"], message["args"]) == ("herald.publish_to_user", [5, {"type": "x"}])

    with pytest.raises(RuntimeError), transaction.atomic():
        jobs.enqueue_on_commit(jobs.PUBLISH_TO_USER, 6, {}, queue=queue.name)
        raise RuntimeError("rolled back")
    assert len(queue()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_does_not_answer_costs_a_warning_never_the_committed_change(queue, monkeypatch, caplog):
    def refused(*args, **kwargs):
        raise ConnectionRefusedError("no broker")

    monkeypatch.setattr(current_app, "send_task", refused)
    with transaction.atomic():
        jobs.enqueue_on_commit(jobs.DROP_SESSIONS, ["digest"], queue=queue.name)
    assert "live update not enqueued task=herald.drop_sessions" in caplog.text


def test_wrong_arguments_are_refused_where_the_task_is_queued(queue):
    with pytest.raises(TypeError):
        jobs.enqueue(jobs.FAN_OUT_CHUNK, 41, queue=queue.name)  # no chunk index
    assert queue() == []


def test_an_app_without_herald_s_tasks_still_sends_the_same_message(queue, monkeypatch):
    """A process whose Celery app did not autodiscover tasks.py (a script that only sends): queued by name."""
    monkeypatch.setattr(current_app, "tasks", {})
    jobs.enqueue(jobs.FAN_OUT_CHUNK, 41, 3, queue=queue.name)

    (message,) = queue()
    assert (message["task"], message["args"], message["content_type"]) == (
        "herald.fan_out_chunk",
        [41, 3],
        "application/json",
    )


@pytest.mark.django_db
def test_a_host_whose_tests_run_celery_eagerly_gets_the_work_done_in_process(
    queue, channel, monkeypatch, django_user_model
):
    """task_always_eager (a host's test settings): the task runs at once, here, as its apply_async always did."""
    monkeypatch.setitem(current_app.conf, "task_always_eager", True)
    alice = django_user_model.objects.create_user("alice")
    key = live_session(alice)

    jobs.enqueue(jobs.PUBLISH_TO_USER, alice.pk, wire.notification_read(notification_id=3), queue=queue.name)

    assert queue() == []
    (message,) = channel()
    assert message["room"] == [wire.session_room(wire.session_digest(key))]
    assert message["data"][0]["data"] == {"id": 3}

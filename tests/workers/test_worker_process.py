"""A real worker process: its metrics, and its warm shutdown in the middle of a fan-out."""

from __future__ import annotations

import signal

import pytest
import requests
from django.contrib.auth import get_user_model
from django.db import transaction
from notifications.models import Notification

from herald_live.actions import sending
from herald_live.models import Event, EventChunk
from tests.support import processes
from tests.support.metrics import metric

pytestmark = pytest.mark.usefixtures("committed")


def test_the_worker_exports_task_and_queue_metrics(system_env, make_user, tmp_path):
    port = processes.free_port()
    env = {**system_env, "HERALD_WORKER_METRICS_PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    worker = processes.worker(env, name="metrics-worker").start()
    try:
        worker.wait_for_log("ready.")
        alice, bob = make_user("alice"), make_user("bob")
        with transaction.atomic():
            event = sending.send_notification(actor=bob, recipient=alice, verb="counted", level="info")
        processes.wait_until(
            lambda: Event.objects.get(pk=event.pk).status == Event.Status.DONE, timeout=20, what="fan-out"
        )

        def scraped() -> str | None:
            # Both of the task's metrics: they are written one after the other as the task ends, and the
            # event is done before the task is (a drain looks once more before it returns).
            text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            try:
                metric(text, "herald_worker_tasks_total", outcome="success", task="herald.fan_out_pending")
                metric(text, "herald_worker_task_duration_seconds_count", task="herald.fan_out_pending")
            except AssertionError:  # not written yet
                return None
            return text

        text = processes.wait_until(scraped, timeout=10, what="fan-out metrics")
        assert metric(text, "herald_worker_tasks_total", outcome="success", task="herald.fan_out_pending") >= 1
        assert metric(text, "herald_worker_task_duration_seconds_count", task="herald.fan_out_pending") >= 1
        assert metric(text, "herald_queue_depth", queue="herald.interactive") == 0
    finally:
        worker.stop()


def test_sigterm_finishes_running_chunks_and_leaves_the_rest_to_other_workers(system_env, make_user):
    User = get_user_model()
    User.objects.bulk_create([User(username=f"warm-{i}-{id(system_env)}") for i in range(1500)])
    actor = make_user("actor")
    env = {**system_env, "HERALD_FANOUT_CHUNK_SIZE": "50"}
    first = processes.worker(env, name="warm-worker").start()
    second = processes.worker(env, name="next-worker")
    try:
        first.wait_for_log("ready.")
        with transaction.atomic():
            event = sending.send_notification(actor=actor, everyone=True, verb="warm shutdown", level="info")
        first.wait_for_log(f"fan-out chunk done event_id={event.pk} ", timeout=30)

        # What systemd (KillMode=mixed) and docker stop do: SIGTERM to the main process only.
        first.process.send_signal(signal.SIGTERM)

        assert first.process.wait(timeout=120) == 0
        finished_by_first = first.log().count(f"fan-out chunk done event_id={event.pk} ")
        committed = EventChunk.objects.filter(event_id=event.pk)
        assert committed.count() == finished_by_first, "a chunk was cut off half-way"
        assert Notification.objects.filter(verb="warm shutdown").count() == sum(c.rows for c in committed)
        assert "WorkerLostError" not in first.log()
        assert Event.objects.get(pk=event.pk).status != Event.Status.DONE, "nothing was left to hand over"

        second.start().wait_for_log("ready.")
        processes.wait_until(
            lambda: Event.objects.get(pk=event.pk).status == Event.Status.DONE, timeout=120, what="the rest"
        )
        active = User.objects.filter(is_active=True).count()
        rows = Notification.objects.filter(verb="warm shutdown")
        assert rows.count() == rows.values("recipient_id").distinct().count() == active
    finally:
        first.stop(signal.SIGKILL)
        second.stop()


def test_the_worker_refuses_pickled_tasks(system_env, make_user):
    from workers.celery_app import app

    worker = processes.worker(system_env, name="json-only-worker").start()
    try:
        worker.wait_for_log("ready.")
        mark = len(worker.log())
        # A pickle payload could run code on the worker: only JSON is ever accepted. (Herald names the queue at
        # each enqueue, and so does this: the site routes nothing by default.)
        app.send_task("herald.redrive", serializer="pickle", queue="herald.interactive")
        worker.wait_for_log("untrusted content", after=mark, timeout=20)
        assert "herald.redrive[" not in worker.log()[mark:], "the pickled task ran"
    finally:
        worker.stop()

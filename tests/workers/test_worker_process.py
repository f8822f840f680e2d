"""A real worker process: its metrics, and its warm shutdown in the middle of a fan-out."""

from __future__ import annotations

import signal

import pytest
import requests
from django.contrib.auth import get_user_model
from django.db import transaction
from notifications.models import Notification

from tests.support import processes
from tests.support.metrics import metric
from web.notices import services
from web.notices.models import Event

pytestmark = pytest.mark.usefixtures("committed")


def test_the_worker_exports_task_and_queue_metrics(system_env, make_user, tmp_path):
    port = processes.free_port()
    env = {**system_env, "HERALD_WORKER_METRICS_PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    worker = processes.worker(env, name="metrics-worker").start()
    try:
        worker.wait_for_log("ready.")
        alice, bob = make_user("alice"), make_user("bob")
        with transaction.atomic():
            event = services.send_notification(actor=bob, recipient=alice, verb="counted", level="info")
        processes.wait_until(
            lambda: Event.objects.get(pk=event.pk).status == Event.Status.DONE, timeout=20, what="fan-out"
        )

        def scraped() -> str | None:
            text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            return text if 'task="herald.fan_out"' in text else None

        text = processes.wait_until(scraped, timeout=10, what="fan-out metrics")
        assert metric(text, "herald_worker_tasks_total", outcome="success", task="herald.fan_out") >= 1
        assert metric(text, "herald_worker_task_duration_seconds_count", task="herald.fan_out") >= 1
        assert metric(text, "herald_queue_depth", queue="herald.interactive") == 0
    finally:
        worker.stop()


def test_sigterm_lets_a_running_fan_out_finish(system_env, make_user):
    User = get_user_model()
    User.objects.bulk_create([User(username=f"bulk-{i}-{make_user.__name__}-{id(system_env)}") for i in range(1500)])
    actor = make_user("actor")
    # One recipient per chunk makes the fan-out last long enough to be interrupted.
    worker = processes.worker({**system_env, "HERALD_FANOUT_CHUNK_SIZE": "1"}, name="warm-worker").start()
    try:
        worker.wait_for_log("ready.")
        with transaction.atomic():
            event = services.send_notification(actor=actor, everyone=True, verb="warm shutdown", level="info")
        processes.wait_until(
            lambda: Event.objects.get(pk=event.pk).rows_persisted > 0, timeout=20, what="the fan-out to start"
        )

        # What systemd (KillMode=mixed) and docker stop do: SIGTERM to the main process only.
        worker.process.send_signal(signal.SIGTERM)

        assert worker.process.wait(timeout=120) == 0
        event.refresh_from_db()
        assert event.status == Event.Status.DONE
        active = User.objects.filter(is_active=True).count()
        assert Notification.objects.filter(verb="warm shutdown").count() == active == event.recipients_count
    finally:
        worker.stop(signal.SIGKILL)


def test_the_worker_refuses_pickled_tasks(system_env, make_user):
    from workers.celery_app import app

    worker = processes.worker(system_env, name="json-only-worker").start()
    try:
        worker.wait_for_log("ready.")
        mark = len(worker.log())
        # A pickle payload could run code on the worker: only JSON is ever accepted.
        app.send_task("herald.redrive", serializer="pickle")
        worker.wait_for_log("untrusted content", after=mark, timeout=20)
        assert "herald.redrive[" not in worker.log()[mark:], "the pickled task ran"
    finally:
        worker.stop()

"""The site's Celery app finds Herald's tasks by autodiscovery, and Herald's needs of Celery travel with its tasks.

The host's global Celery settings are its own: nothing Herald relies on (late acknowledgement, JSON, queues) may
come from them, so these checks read the tasks and the app, never web/settings.py's CELERY_TASK_* names.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from herald_live import tasks
from workers.celery_app import app

HERALD_TASKS = [
    tasks.fan_out,
    tasks.fan_out_pending,
    tasks.fan_out_chunk,
    tasks.publish_to_user,
    tasks.publish_notifications,
    tasks.publish_notification_state,
    tasks.drop_sessions,
    tasks.redrive,
    tasks.purge,
    tasks.send_email_digests,
    tasks.send_push,
]


def test_autodiscovery_registers_every_herald_task_on_the_sites_app():
    app.loader.import_default_modules()  # what a worker does at start: autodiscover_tasks() runs then

    assert {task.name for task in HERALD_TASKS} == tasks.HERALD_TASKS
    assert tasks.HERALD_TASKS <= set(app.tasks)
    assert all(task.app is app for task in HERALD_TASKS), "a task is bound to another Celery app"


@pytest.mark.parametrize("task", HERALD_TASKS, ids=lambda task: task.name)
def test_each_task_carries_its_own_reliability_options(task):
    registered = app.tasks[task.name]
    # A worker killed mid-task gives the task back to the broker (docs/guarantees.md).
    assert registered.acks_late is True
    assert registered.reject_on_worker_lost is True
    # Never pickle, whatever the host's task_serializer.
    assert registered.serializer == "json"
    assert registered.ignore_result is True


def test_the_site_forces_no_global_task_options_on_herald():
    # Removed from web/settings.py: Herald sets them per task, and names the queue at each enqueue.
    for name in ("CELERY_TASK_ACKS_LATE", "CELERY_TASK_REJECT_ON_WORKER_LOST", "CELERY_TASK_ROUTES"):
        assert not hasattr(settings, name), name
    assert not hasattr(settings, "CELERY_TASK_DEFAULT_QUEUE")
    assert app.conf.task_acks_late is False
    assert app.conf.task_routes is None
    # Only JSON is accepted by the site's workers (test_worker_process.py sends them a pickle).
    assert list(app.conf.accept_content) == ["json"]


def test_the_beat_schedule_sends_the_redrive_to_the_interactive_queue():
    (entry,) = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == tasks.redrive.name]
    # Without a queue, beat would send it to Celery's default queue, which Herald's workers do not consume.
    assert entry["options"]["queue"] == "herald.interactive"
    assert entry["schedule"] > 0


def test_the_beat_schedule_sends_the_purge_to_the_bulk_queue_hourly():
    (entry,) = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == tasks.purge.name]
    # A run takes up to HERALD_RETENTION_MAX_SECONDS: on the bulk queue, never ahead of interactive sends.
    assert entry["options"]["queue"] == "herald.bulk"
    assert entry["schedule"] == 3600


def test_the_beat_schedule_sends_the_email_digests_to_the_bulk_queue_every_minute():
    (entry,) = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == tasks.send_email_digests.name]
    assert entry["options"]["queue"] == "herald.bulk"
    assert entry["schedule"] == 60
    # A run that waited in the queue past the next one's start is dropped: the next one does its work.
    assert 0 < entry["options"]["expires"] <= 60

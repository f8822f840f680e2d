"""Herald's Celery tasks: thin wrappers that call one function of the layers below, and nothing more.

``@shared_task``: they bind to whatever Celery app the host runs, found by its ``autodiscover_tasks()``.
What Herald needs of Celery is set here, per task (JSON, late acknowledgement, no results); the host's
global Celery settings are left alone. Nothing imports this module: the layers below queue these tasks by
name (infra/jobs.py), naming the queue at each enqueue (HERALD_INTERACTIVE_QUEUE, HERALD_BULK_QUEUE,
HERALD_PUSH_QUEUE).
"""

from __future__ import annotations

from celery import shared_task, signals
from django.utils import timezone

from herald_live import retention, wire
from herald_live.conf import app_settings
from herald_live.delivery import drain, fanout, publish
from herald_live.delivery.redrive import redrive_stalled_events
from herald_live.email import digests
from herald_live.infra import jobs
from herald_live.infra.publisher import PublishFailed
from herald_live.push import send

# A task is acknowledged only once it ran: a worker killed mid-task gives it back to the broker,
# and every task below is safe to run twice.
TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "serializer": "json",
}
# Tasks whose whole work is one publish: one that Redis refused is tried again, later.
PUBLISH_OPTIONS = {
    **TASK_OPTIONS,
    "autoretry_for": (PublishFailed,),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name=jobs.FAN_OUT, **TASK_OPTIONS)
def fan_out(event_id: int) -> None:
    fanout.fan_out_event(event_id=event_id)


@shared_task(name=jobs.FAN_OUT_PENDING, **TASK_OPTIONS)
def fan_out_pending() -> None:
    drain.drain()


@shared_task(name=jobs.FAN_OUT_CHUNK, **TASK_OPTIONS)
def fan_out_chunk(event_id: int, index: int) -> None:
    fanout.fan_out_chunk(event_id=event_id, index=index)


@shared_task(name=jobs.PUBLISH_TO_USER, bind=True, **PUBLISH_OPTIONS)
def publish_to_user(self, user_id: int, envelope: dict) -> None:
    # A retry runs seconds later: the change it describes may have been undone since (read, then
    # unread again), so it tells the user's tabs to refetch their state instead of replaying it.
    publish.publish_to_user(
        user_id=user_id, envelope=wire.notifications_changed() if self.request.retries else envelope
    )


@shared_task(name=jobs.PUBLISH_NOTIFICATION_STATE, **PUBLISH_OPTIONS)
def publish_notification_state(notification_id: int) -> None:
    publish.publish_notification_state(notification_id=notification_id)


@shared_task(name=jobs.PUBLISH_NOTIFICATIONS, **PUBLISH_OPTIONS)
def publish_notifications(notification_ids: list[int]) -> None:
    publish.publish_notifications(notification_ids=notification_ids)


@shared_task(name=jobs.DROP_SESSIONS, **PUBLISH_OPTIONS)
def drop_sessions(session_digests: list[str]) -> None:
    publish.drop_sessions(session_digests=session_digests)


@shared_task(name=jobs.REDRIVE, **TASK_OPTIONS)
def redrive() -> None:
    redrive_stalled_events(older_than_seconds=app_settings.REDRIVE_AFTER_SECONDS)


@shared_task(name=jobs.PURGE, **TASK_OPTIONS)
def purge() -> None:
    # A time budget per run: the bulk queue's fan-outs wait behind it at most that long.
    retention.purge(
        now=timezone.now(),
        batch_size=app_settings.RETENTION_BATCH_SIZE,
        max_seconds=app_settings.RETENTION_MAX_SECONDS,
    )


@shared_task(name=jobs.SEND_PUSH, **TASK_OPTIONS)
def send_push(notification_ids: list[int], pairs: list[list[int]] | None = None, attempt: int = 0) -> None:
    # Retries are new tasks for the failed deliveries only (push/send.py), never a retry of this whole task.
    send.send(notification_ids=notification_ids, pairs=pairs, attempt=attempt)


@shared_task(name=jobs.SEND_EMAIL_DIGESTS, **TASK_OPTIONS)
def send_email_digests() -> None:
    # Every minute (beat), on the bulk queue. Overlapping runs (a slow SMTP server) are safe: a digest is claimed once.
    digests.send_due_digests(now=timezone.now())


HERALD_TASKS = jobs.TASK_NAMES
_DEFINED = {
    task.name
    for task in (
        fan_out,
        fan_out_pending,
        fan_out_chunk,
        publish_to_user,
        publish_notification_state,
        publish_notifications,
        drop_sessions,
        redrive,
        purge,
        send_push,
        send_email_digests,
    )
}
if _DEFINED != HERALD_TASKS:  # infra/jobs.py queues by these names: a task missing here would never run
    raise RuntimeError(f"herald_live.tasks and infra/jobs.py disagree: {sorted(_DEFINED ^ HERALD_TASKS)}")


@signals.task_prerun.connect
@signals.task_postrun.connect
def _recycle_database_connections(sender=None, **kwargs) -> None:
    """Around Herald's tasks, what Django does at each request's start and end: close connections
    that are too old (CONN_MAX_AGE) or broken, so that a database restart costs at most one failed task.

    Not around a task run eagerly (a host's tests with task_always_eager): it runs inside its caller, whose
    connection and transaction are not the task's to close."""
    if getattr(sender, "name", None) in HERALD_TASKS and not getattr(sender.request, "is_eager", False):
        from django.db import close_old_connections

        close_old_connections()

"""Herald's Celery tasks: thin wrappers that call a service function and nothing more.

``@shared_task``: they bind to whatever Celery app the host runs, found by its
``autodiscover_tasks()``. What Herald needs of Celery is set here, per task (JSON, late
acknowledgement, no results); the host's global Celery settings are left alone. Queues are
named at each enqueue (services.enqueue), from HERALD_INTERACTIVE_QUEUE and HERALD_BULK_QUEUE.
"""

from __future__ import annotations

from celery import shared_task, signals
from django.utils import timezone

from herald_live import email_digests, fanout, interactive, push, retention, services, wire
from herald_live.conf import app_settings
from herald_live.publisher import PublishFailed

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


@shared_task(name="herald.fan_out", **TASK_OPTIONS)
def fan_out(event_id: int) -> None:
    fanout.fan_out_event(event_id=event_id)


@shared_task(name="herald.fan_out_pending", **TASK_OPTIONS)
def fan_out_pending() -> None:
    interactive.drain()


@shared_task(name="herald.fan_out_chunk", **TASK_OPTIONS)
def fan_out_chunk(event_id: int, index: int) -> None:
    fanout.fan_out_chunk(event_id=event_id, index=index)


@shared_task(name="herald.publish_to_user", bind=True, **PUBLISH_OPTIONS)
def publish_to_user(self, user_id: int, envelope: dict) -> None:
    # A retry runs seconds later: the change it describes may have been undone since (read, then
    # unread again), so it tells the user's tabs to refetch their state instead of replaying it.
    services.publish_to_user(
        user_id=user_id, envelope=wire.notifications_changed() if self.request.retries else envelope
    )


@shared_task(name="herald.publish_notification_state", **PUBLISH_OPTIONS)
def publish_notification_state(notification_id: int) -> None:
    services.publish_notification_state(notification_id=notification_id)


@shared_task(name="herald.publish_notifications", **PUBLISH_OPTIONS)
def publish_notifications(notification_ids: list[int]) -> None:
    services.publish_notifications(notification_ids=notification_ids)


@shared_task(name="herald.drop_sessions", **PUBLISH_OPTIONS)
def drop_sessions(session_digests: list[str]) -> None:
    services.drop_sessions(session_digests=session_digests)


@shared_task(name="herald.redrive", **TASK_OPTIONS)
def redrive() -> None:
    services.redrive_stalled_events(older_than_seconds=app_settings.REDRIVE_AFTER_SECONDS)


@shared_task(name="herald.purge", **TASK_OPTIONS)
def purge() -> None:
    # A time budget per run: the bulk queue's fan-outs wait behind it at most that long.
    retention.purge(
        now=timezone.now(),
        batch_size=app_settings.RETENTION_BATCH_SIZE,
        max_seconds=app_settings.RETENTION_MAX_SECONDS,
    )


@shared_task(name="herald.send_push", **TASK_OPTIONS)
def send_push(notification_ids: list[int], pairs: list[list[int]] | None = None, attempt: int = 0) -> None:
    # Retries are new tasks for the failed deliveries only (push.send), never a retry of this whole task.
    push.send(notification_ids=notification_ids, pairs=pairs, attempt=attempt)


@shared_task(name="herald.send_email_digests", **TASK_OPTIONS)
def send_email_digests() -> None:
    # Every minute (beat), on the bulk queue. Overlapping runs (a slow SMTP server) are safe: a digest is claimed once.
    email_digests.send_due_digests(now=timezone.now())


HERALD_TASKS = frozenset(
    {
        "herald.fan_out",
        "herald.fan_out_pending",
        "herald.fan_out_chunk",
        "herald.publish_to_user",
        "herald.publish_notifications",
        "herald.publish_notification_state",
        "herald.drop_sessions",
        "herald.redrive",
        "herald.purge",
        "herald.send_email_digests",
        "herald.send_push",
    }
)


@signals.task_prerun.connect
@signals.task_postrun.connect
def _recycle_database_connections(sender=None, **kwargs) -> None:
    """Around Herald's tasks, what Django does at each request's start and end: close connections
    that are too old (CONN_MAX_AGE) or broken, so that a database restart costs at most one failed task."""
    if getattr(sender, "name", None) in HERALD_TASKS:
        from django.db import close_old_connections

        close_old_connections()

"""Queues Herald's Celery tasks by name, so that nothing below tasks.py imports it.

The layers above enqueue work here; tasks.py, which imports them to run it, is imported by no module of
Herald's (the import-linter contract in pyproject.toml holds that). tasks.py checks at import that its
tasks are exactly these names, so a name here cannot drift from a task there.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError
from redis import RedisError

from herald_live.conf import app_settings

logger = logging.getLogger(__name__)

FAN_OUT = "herald.fan_out"
FAN_OUT_PENDING = "herald.fan_out_pending"
FAN_OUT_CHUNK = "herald.fan_out_chunk"
PUBLISH_TO_USER = "herald.publish_to_user"
PUBLISH_NOTIFICATIONS = "herald.publish_notifications"
PUBLISH_NOTIFICATION_STATE = "herald.publish_notification_state"
DROP_SESSIONS = "herald.drop_sessions"
REDRIVE = "herald.redrive"
PURGE = "herald.purge"
SEND_EMAIL_DIGESTS = "herald.send_email_digests"
SEND_PUSH = "herald.send_push"

TASK_NAMES = frozenset(
    {
        FAN_OUT,
        FAN_OUT_PENDING,
        FAN_OUT_CHUNK,
        PUBLISH_TO_USER,
        PUBLISH_NOTIFICATIONS,
        PUBLISH_NOTIFICATION_STATE,
        DROP_SESSIONS,
        REDRIVE,
        PURGE,
        SEND_EMAIL_DIGESTS,
        SEND_PUSH,
    }
)

# What enqueueing raises when the broker does not answer.
UNAVAILABLE = (BrokerError, RedisError, OSError)


def enqueue(
    name: str,
    *args: Any,
    queue: str,
    countdown: float | None = None,
    kwargs: dict[str, Any] | None = None,
) -> None:
    """Sends one task message; raises one of UNAVAILABLE when the broker does not take it."""
    if name not in TASK_NAMES:  # send_task cannot tell a typo from a task another app runs
        raise ValueError(f"not a Herald task: {name!r}")
    # The task as this process's Celery app registered it (the host's autodiscovery found tasks.py), looked up by
    # name: its apply_async checks the arguments here, honours a host's task_always_eager (its tests run tasks
    # in process) and its routes, as a call on the task did before tasks were queued by name.
    task = current_app.tasks.get(name)
    if task is not None:
        task.apply_async(args, kwargs, queue=queue, countdown=countdown)
        return
    # An app that did not load Herald's tasks: the message as the task would send it (tasks.TASK_OPTIONS).
    current_app.send_task(name, args, kwargs, queue=queue, countdown=countdown, serializer="json", ignore_result=True)


def enqueue_on_commit(name: str, *args: Any, queue: str | None = None) -> None:
    """After commit, enqueues a live update that is best-effort by design.

    The database already holds the change, and every client refetches its state when it (re)connects, so a
    broker that does not answer costs liveness only: it is logged, and never turns a committed change (a mark
    read, a logout, a host's own save) into an error page.
    """

    def send() -> None:
        try:
            enqueue(name, *args, queue=queue or app_settings.INTERACTIVE_QUEUE)
        except UNAVAILABLE:
            logger.warning("live update not enqueued task=%s: the message queue does not answer", name)

    transaction.on_commit(send)

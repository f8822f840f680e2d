"""Live updates queued after commit, for changes the live sessions cannot see by themselves.

Herald's own actions (read_state.py) call these, and so do the receivers that make a host's existing code
live (signals.py, notifications_urls.py): django-notifications' ``notify.send``, saves of a notification,
its stock views. Each enqueues a worker's publish by task name (infra/jobs.py), best effort: every client
refetches its state when it (re)connects.
"""

from __future__ import annotations

from herald_live import wire
from herald_live.conf import app_settings
from herald_live.infra import jobs


def publish_to_user_on_commit(*, user_id: int, envelope: dict) -> None:
    """After commit, a worker sends ``envelope`` to every live session of the user."""
    jobs.enqueue_on_commit(jobs.PUBLISH_TO_USER, user_id, envelope)


def publish_all_read_on_commit(*, user_id: int, up_to_id: int) -> None:
    publish_to_user_on_commit(user_id=user_id, envelope=wire.notifications_read(up_to_id=up_to_id))


def publish_resync_on_commit(*, user_id: int) -> None:
    """The user's state changed in a way no single event describes: every session refetches it."""
    publish_to_user_on_commit(user_id=user_id, envelope=wire.notifications_changed())


def publish_deleted_on_commit(*, user_id: int, notification_id: int) -> None:
    publish_to_user_on_commit(user_id=user_id, envelope=wire.notification_deleted(notification_id=notification_id))


def publish_state_on_commit(*, notification_id: int) -> None:
    """A notification was saved outside Herald's actions (django-notifications' views, ``mark_as_read()``,
    the admin): after commit, a worker tells every live session of its recipient the row's state then."""
    jobs.enqueue_on_commit(jobs.PUBLISH_NOTIFICATION_STATE, notification_id)


def publish_created_on_commit(*, notification_ids: list[int]) -> None:
    """Rows written by someone else (django-notifications' ``notify.send``): published after commit,
    by workers, in chunks; the request only enqueues."""
    ids = [pk for pk in notification_ids if pk is not None]
    if not ids:
        return
    size = app_settings.FANOUT_CHUNK_SIZE
    queue = (
        app_settings.INTERACTIVE_QUEUE
        if len(ids) <= app_settings.INTERACTIVE_MAX_RECIPIENTS
        else app_settings.BULK_QUEUE
    )

    for start in range(0, len(ids), size):
        jobs.enqueue_on_commit(jobs.PUBLISH_NOTIFICATIONS, ids[start : start + size], queue=queue)

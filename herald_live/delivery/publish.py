"""Publishing to the pushers, from workers only: what was fanned out, and state changes of stored notifications.

Requests never publish (they enqueue the tasks that call these: infra/jobs.py). Every envelope goes to the
rooms of the recipient's unexpired sessions, through the socket.io Redis message queue (infra/publisher.py).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from notifications.swappable import load_notification_model as notification_model

from herald_live import wire
from herald_live.infra import publisher
from herald_live.metrics import PUBLISH_FAILURES
from herald_live.models import Event, EventChunk
from herald_live.selectors import notifications, sessions

logger = logging.getLogger(__name__)


def publish_fanned_out(*, messages: list, event_ids: list[int], chunk: int) -> None:
    """A chunk's one Redis message, after its commit: the chunk of a planned event, or a drain's batch of
    one-chunk events (each its chunk 0). One that Redis refused is run again.

    Its rows are stored, but no session heard of them. The chunks' records are taken back and the events
    marked failed, so that the re-drive (delivery/redrive.py) runs them again: their rows are found in place
    (nothing doubles) and published to the sessions live by then.
    """
    try:
        publisher.emit_batch(messages=messages)
    except publisher.PublishFailed as exc:
        with transaction.atomic():
            EventChunk.objects.filter(event_id__in=event_ids, index=chunk).delete()
            Event.objects.filter(pk__in=event_ids).update(
                status=Event.Status.FAILED, completed_at=None, updated_at=timezone.now()
            )
        PUBLISH_FAILURES.inc()
        logger.warning(
            "fan-out not published events=%s first_event_id=%s chunk=%s: %s; re-drive will retry",
            len(event_ids),
            event_ids[0],
            chunk,
            exc,
        )


def publish_to_user(*, user_id: int, envelope: dict) -> int:
    """Sends one envelope to every live session of a user; returns how many sessions."""
    rooms = sessions.live_session_rooms(user_ids=[user_id]).get(user_id, [])
    publisher.emit_to_rooms(rooms=rooms, payload=envelope)
    return len(rooms)


def publish_notification_state(*, notification_id: int) -> int:
    """What a notification is now (read, unread or gone), to every live session of its recipient.

    Read in the worker, not in the request: two quick changes of one row published by two workers
    at once both say its latest state, so no tab ends up with them applied in the wrong order.
    """
    row = notification_model().objects.filter(pk=notification_id).prefetch_related("actor", "target").first()
    if row is None:
        return 0  # deleted since: its recipient's clients drop it at their next sync
    if row.deleted:
        envelope = wire.notification_deleted(notification_id=row.pk)
    elif row.unread:
        envelope = wire.notification_unread(notifications.serialize_notification(row))
    else:
        envelope = wire.notification_read(notification_id=row.pk)
    return publish_to_user(user_id=row.recipient_id, envelope=envelope)


def publish_notifications(*, notification_ids: list[int]) -> int:
    """Publishes stored notifications to every live session of their recipients; returns the sessions reached."""
    rows = list(
        notification_model()
        .objects.filter(pk__in=notification_ids, unread=True, deleted=False)
        .prefetch_related("actor", "target")
        .order_by("pk")
    )
    rooms_by_user = sessions.live_session_rooms(user_ids={row.recipient_id for row in rows})
    messages = [
        (rooms_by_user[row.recipient_id], wire.notification_created(notifications.serialize_notification(row)))
        for row in rows
        if rooms_by_user.get(row.recipient_id)
    ]
    publisher.emit_batch(messages=messages)
    return sum(len(rooms) for rooms, _ in messages)


def drop_sessions(*, session_digests: list[str]) -> None:
    """Every pusher disconnects the sockets of these sessions (a logout, a revocation)."""
    publisher.drop_rooms(rooms=[wire.session_room(digest) for digest in session_digests])

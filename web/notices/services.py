"""Write-side services: the one place where sends are recorded, fanned out and published.

Views, tasks and management commands call these functions and nothing else writes
notifications. Requests only call the ``record`` half (send_notification, mark_all_read,
end_sessions); the fan-out runs in workers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from notifications.models import Notification
from user_sessions.models import Session

import wire
from web.notices import publisher, selectors
from web.notices.models import Event

logger = logging.getLogger(__name__)
User = get_user_model()


def _tasks():
    # Imported late: workers.tasks imports this module.
    from workers import tasks

    return tasks


def send_notification(*, actor, recipient=None, everyone: bool = False, verb: str, level: str) -> Event:
    """Records one event (one row, whatever the audience) and enqueues its fan-out on commit."""
    if everyone == (recipient is not None):
        raise ValueError("name exactly one of recipient or everyone")
    with transaction.atomic():
        event = Event.objects.create(
            actor=actor,
            audience=Event.Audience.EVERYONE if everyone else Event.Audience.USER,
            recipient=recipient,
            verb=verb,
            level=level,
        )
        _tasks().fan_out.delay_on_commit(event.pk)
    logger.info("event recorded event_id=%s audience=%s actor_id=%s", event.pk, event.audience, actor.pk)
    return event


def _recipient_chunks(event: Event, size: int) -> Iterator[list[int]]:
    if event.audience == Event.Audience.EVERYONE:
        yield from selectors.active_user_id_chunks(size=size)
    elif User.objects.filter(pk=event.recipient_id, is_active=True).exists():
        yield [event.recipient_id]


def _persist_chunk(*, event: Event, user_ids: list[int], event_ct, actor_ct) -> tuple[int, list[dict]]:
    """Inserts the missing rows of this chunk; returns (inserted, unread rows of the chunk).

    Idempotent: a re-run after a crash inserts only what the killed attempt had not.
    """
    rows = Notification.objects.filter(
        target_content_type=event_ct, target_object_id=str(event.pk), recipient_id__in=user_ids
    )
    existing = set(rows.values_list("recipient_id", flat=True))
    now = timezone.now()
    new = [
        Notification(
            recipient_id=user_id,
            actor_content_type=actor_ct,
            actor_object_id=str(event.actor_id),
            verb=event.verb,
            level=event.level,
            target_content_type=event_ct,
            target_object_id=str(event.pk),
            timestamp=now,
        )
        for user_id in user_ids
        if user_id not in existing
    ]
    Notification.objects.bulk_create(new, batch_size=500)
    return len(new), list(rows.filter(unread=True).values("id", "recipient_id", "timestamp"))


def _notification_messages(
    *, event: Event, rows: list[dict], rooms_by_user: dict[int, list[str]]
) -> list[tuple[list[str], dict]]:
    """One (rooms, envelope) per recipient with a live session: each row has its own id."""
    actor = event.actor.get_username() if event.actor else ""
    messages = []
    for row in rows:
        rooms = rooms_by_user.get(row["recipient_id"])
        if rooms:
            payload = selectors.notification_payload(
                notification_id=row["id"],
                verb=event.verb,
                level=event.level,
                actor=actor,
                timestamp=row["timestamp"],
                unread=True,
            )
            messages.append((rooms, wire.notification_created(payload)))
    return messages


def fan_out_event(*, event_id: int) -> Event:
    """Persists an event's notifications in bulk, then publishes each to every live session.

    Each chunk commits before it is published, so a client told about a notification can
    always fetch it.
    """
    started = time.perf_counter()
    event = Event.objects.select_related("actor").get(pk=event_id)
    if event.status == Event.Status.DONE:
        return event
    Event.objects.filter(pk=event.pk).update(status=Event.Status.FANNING_OUT)
    event_ct = ContentType.objects.get_for_model(Event)
    actor_ct = ContentType.objects.get_for_model(User)
    recipients = persisted = published = 0
    try:
        for user_ids in _recipient_chunks(event, settings.HERALD_FANOUT_CHUNK_SIZE):
            with transaction.atomic():
                inserted, rows = _persist_chunk(event=event, user_ids=user_ids, event_ct=event_ct, actor_ct=actor_ct)
                rooms_by_user = selectors.live_session_rooms(user_ids=user_ids)
                messages = _notification_messages(event=event, rows=rows, rooms_by_user=rooms_by_user)
                transaction.on_commit(partial(publisher.emit_many, messages=messages))
            published += sum(len(rooms) for rooms, _ in messages)
            recipients += len(user_ids)
            persisted += inserted
            Event.objects.filter(pk=event.pk).update(
                recipients_count=recipients, rows_persisted=persisted, sessions_published=published
            )
    except Exception:
        Event.objects.filter(pk=event.pk).update(status=Event.Status.FAILED)
        logger.exception("fan-out failed event_id=%s", event.pk)
        raise
    Event.objects.filter(pk=event.pk).update(status=Event.Status.DONE, completed_at=timezone.now())
    event.refresh_from_db()
    logger.info(
        "fan-out done event_id=%s recipients=%s rows=%s sessions=%s duration_ms=%d",
        event.pk,
        recipients,
        persisted,
        published,
        (time.perf_counter() - started) * 1000,
    )
    return event


def mark_all_read(*, user) -> int | None:
    """Marks every notification of the user read; returns the highest id it covered.

    The id travels with the live event so that a notification that arrives meanwhile
    stays unread in every tab.
    """
    with transaction.atomic():
        up_to_id = Notification.objects.filter(recipient=user).aggregate(top=Max("id"))["top"]
        if up_to_id is None:
            return None
        Notification.objects.filter(recipient=user, unread=True, id__lte=up_to_id).update(unread=False)
        _publish_to_user_on_commit(user_id=user.pk, envelope=wire.notifications_read(up_to_id=up_to_id))
    return up_to_id


def mark_read(*, user, notification_id: int) -> bool:
    """Marks one of the user's notifications read; False when the user has no such notification."""
    with transaction.atomic():
        updated = Notification.objects.filter(recipient=user, pk=notification_id).update(unread=False)
        if updated:
            _publish_to_user_on_commit(
                user_id=user.pk, envelope=wire.notification_read(notification_id=notification_id)
            )
    return bool(updated)


def _publish_to_user_on_commit(*, user_id: int, envelope: dict) -> None:
    transaction.on_commit(partial(_tasks().publish_to_user.delay, user_id, envelope))


def publish_to_user(*, user_id: int, envelope: dict) -> int:
    """Sends one envelope to every live session of a user; returns how many sessions."""
    rooms = selectors.live_session_rooms(user_ids=[user_id]).get(user_id, [])
    publisher.emit_to_rooms(rooms=rooms, payload=envelope)
    return len(rooms)


def end_session(*, session_key: str) -> None:
    """Enqueues the closing of a session's sockets (logout, revocation); only its digest travels."""
    digest = wire.session_digest(session_key)
    transaction.on_commit(partial(_tasks().drop_sessions.delay, [digest]))


def revoke_session(*, user, session_digest: str) -> bool:
    """Ends one of the user's sessions, named by digest (keys never reach the page)."""
    for key in Session.objects.filter(user=user).values_list("session_key", flat=True):
        if wire.session_digest(key) == session_digest:
            Session.objects.filter(user=user, session_key=key).delete()
            end_session(session_key=key)
            logger.info("session revoked user_id=%s session=%s", user.pk, session_digest)
            return True
    return False


def revoke_other_sessions(*, user, current_session_key: str) -> int:
    keys = list(
        Session.objects.filter(user=user).exclude(session_key=current_session_key).values_list("session_key", flat=True)
    )
    Session.objects.filter(user=user, session_key__in=keys).delete()
    for key in keys:
        end_session(session_key=key)
    logger.info("other sessions revoked user_id=%s count=%s", user.pk, len(keys))
    return len(keys)


def drop_sessions(*, session_digests: list[str]) -> None:
    publisher.drop_rooms(rooms=[wire.session_room(digest) for digest in session_digests])

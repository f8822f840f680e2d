"""Write-side services: the one place where sends are recorded, fanned out and published.

Views, tasks and management commands call these functions and nothing else writes
notifications. Requests only call the ``record`` half (send_notification, mark_all_read,
end_sessions); the fan-out runs in workers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from notifications.models import Notification
from redis import RedisError
from user_sessions.models import Session

import wire
from web.health import broker_reachable
from web.notices import publisher, selectors
from web.notices.models import Event

logger = logging.getLogger(__name__)
User = get_user_model()


def _tasks():
    # Imported late: workers.tasks imports this module.
    from workers import tasks

    return tasks


class BrokerUnavailable(RedisError):
    """The message queue does not answer: nothing was recorded."""


def send_notification(*, actor, recipient=None, everyone: bool = False, verb: str, level: str) -> Event:
    """Records one event (one row, whatever the audience) and enqueues its fan-out on commit.

    A dead broker is found before anything is written (BrokerUnavailable). Should it die
    between that check and the commit, the event is recorded all the same and the re-drive
    enqueues it later: an accepted send is never lost.
    """
    if everyone == (recipient is not None):
        raise ValueError("name exactly one of recipient or everyone")
    if not broker_reachable():
        raise BrokerUnavailable("the message queue does not answer")
    with transaction.atomic():
        event = Event.objects.create(
            actor=actor,
            audience=Event.Audience.EVERYONE if everyone else Event.Audience.USER,
            recipient=recipient,
            verb=verb,
            level=level,
        )
        transaction.on_commit(partial(enqueue_fan_out, event_id=event.pk))
    logger.info("event recorded event_id=%s audience=%s actor_id=%s", event.pk, event.audience, actor.pk)
    return event


def enqueue_fan_out(*, event_id: int) -> bool:
    try:
        _tasks().fan_out.delay(event_id)
    except (BrokerError, RedisError):
        logger.warning("enqueue failed event_id=%s; the re-drive will enqueue it", event_id)
        return False
    return True


def redrive_stalled_events(*, older_than_seconds: int) -> list[int]:
    """Enqueues again the events recorded but not done, untouched for a while.

    Their task was lost (enqueue failed, broker lost its data) or their worker died. A
    run that overlaps a live one costs time, not correctness: persistence is idempotent
    and clients deduplicate by id.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stalled = Event.objects.filter(
        status__in=[Event.Status.QUEUED, Event.Status.FANNING_OUT, Event.Status.FAILED], updated_at__lt=cutoff
    )
    event_ids = list(stalled.order_by("pk").values_list("pk", flat=True)[:1000])
    for event_id in event_ids:
        # Touch first, so that the next sweep leaves it alone while this attempt runs.
        Event.objects.filter(pk=event_id).update(updated_at=timezone.now())
        enqueue_fan_out(event_id=event_id)
    if event_ids:
        logger.info("re-drive enqueued events=%s", len(event_ids))
    return event_ids


def _recipient_chunks(event: Event, size: int) -> Iterator[list[int]]:
    if event.audience == Event.Audience.EVERYONE:
        yield from selectors.active_user_id_chunks(size=size)
    elif User.objects.filter(pk=event.recipient_id, is_active=True).exists():
        yield [event.recipient_id]


def _persist_chunk(*, event: Event, user_ids: list[int], event_ct, actor_ct) -> tuple[int, list[dict]]:
    """Inserts the missing rows of this chunk; returns (rows the chunk now has, its unread rows).

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
    # The partial unique index (migration 0003) makes a racing attempt's rows a no-op.
    Notification.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
    return len(existing) + len(new), list(rows.filter(unread=True).values("id", "recipient_id", "timestamp"))


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
    Event.objects.filter(pk=event.pk).update(status=Event.Status.FANNING_OUT, updated_at=timezone.now())
    event_ct = ContentType.objects.get_for_model(Event)
    actor_ct = ContentType.objects.get_for_model(User)
    recipients = persisted = published = 0
    try:
        for user_ids in _recipient_chunks(event, settings.HERALD_FANOUT_CHUNK_SIZE):
            with transaction.atomic():
                stored, rows = _persist_chunk(event=event, user_ids=user_ids, event_ct=event_ct, actor_ct=actor_ct)
                rooms_by_user = selectors.live_session_rooms(user_ids=user_ids)
                messages = _notification_messages(event=event, rows=rows, rooms_by_user=rooms_by_user)
                transaction.on_commit(partial(publisher.emit_many, messages=messages))
            published += sum(len(rooms) for rooms, _ in messages)
            recipients += len(user_ids)
            persisted += stored
            Event.objects.filter(pk=event.pk).update(
                recipients_count=recipients,
                rows_persisted=persisted,
                sessions_published=published,
                updated_at=timezone.now(),
            )
    except Exception:
        Event.objects.filter(pk=event.pk).update(status=Event.Status.FAILED, updated_at=timezone.now())
        logger.exception("fan-out failed event_id=%s", event.pk)
        raise
    Event.objects.filter(pk=event.pk).update(
        status=Event.Status.DONE, completed_at=timezone.now(), updated_at=timezone.now()
    )
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
            _end_sessions(user=user, session_keys=[key])
            logger.info("session revoked user_id=%s session=%s", user.pk, session_digest)
            return True
    return False


def revoke_other_sessions(*, user, current_session_key: str) -> int:
    keys = list(
        Session.objects.filter(user=user).exclude(session_key=current_session_key).values_list("session_key", flat=True)
    )
    _end_sessions(user=user, session_keys=keys)
    logger.info("other sessions revoked user_id=%s count=%s", user.pk, len(keys))
    return len(keys)


def end_all_sessions(*, user) -> int:
    """After a password change: every session ends (Django then gives the changer a new one)."""
    keys = list(Session.objects.filter(user=user).values_list("session_key", flat=True))
    _end_sessions(user=user, session_keys=keys)
    logger.info("all sessions ended user_id=%s count=%s", user.pk, len(keys))
    return len(keys)


def _end_sessions(*, user, session_keys: list[str]) -> None:
    Session.objects.filter(user=user, session_key__in=session_keys).delete()
    for key in session_keys:
        end_session(session_key=key)


def drop_sessions(*, session_digests: list[str]) -> None:
    publisher.drop_rooms(rooms=[wire.session_room(digest) for digest in session_digests])

"""A fan-out's rows and live messages: what every recipient of an event gets, for the chunked fan-out
(fanout.py) and the drain (drain.py) alike.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from notifications.swappable import load_notification_model as notification_model

from herald_live import wire
from herald_live.conf import app_settings
from herald_live.infra import bulk_insert
from herald_live.models import Event
from herald_live.selectors import notifications

User = get_user_model()


def persist(*, event: Event, user_ids: list[int]) -> tuple[int, list[dict]]:
    """Inserts the chunk's rows in one statement; returns (rows the chunk has, its unread rows).

    Idempotent without a look first: the partial unique index (migration 0003) turns the
    rows a killed or racing attempt already wrote into no-ops (ON CONFLICT DO NOTHING).
    Only then, and only for the recipients whose row was there already, is there a read.
    """
    event_ct = ContentType.objects.get_for_model(Event)
    template = row_template(event=event, now=timezone.now())
    inserted = bulk_insert.insert_for_recipients(template=template, recipient_ids=user_ids)
    rows = [
        {"id": pk, "recipient_id": recipient_id, "timestamp": template.timestamp, "unread": True}
        for pk, recipient_id in inserted
    ]
    if len(inserted) < len(user_ids):
        missing = set(user_ids).difference(recipient_id for _, recipient_id in inserted)
        rows += (
            notification_model()
            .objects.filter(
                action_object_content_type=event_ct, action_object_object_id=str(event.pk), recipient_id__in=missing
            )
            .values("id", "recipient_id", "timestamp", "unread")
        )
    return len(rows), [row for row in rows if row["unread"]]


def row_template(*, event: Event, now):
    """The notification row every recipient of the event gets, but for its recipient."""
    event_ct = ContentType.objects.get_for_model(Event)
    if event.actor_id:
        actor_ct, actor_id = ContentType.objects.get_for_model(User), str(event.actor_id)
    else:
        actor_ct, actor_id = event_ct, str(event.pk)  # a system send: the event stands as its actor
    return notification_model()(
        actor_content_type=actor_ct,
        actor_object_id=actor_id,
        verb=event.verb,
        level=event.level,
        action_object_content_type=event_ct,
        action_object_object_id=str(event.pk),
        target_content_type_id=event.target_content_type_id,
        target_object_id=event.target_object_id,
        data=event.data,
        timestamp=now,
    )


def live_messages(
    *, event: Event, rows: list[dict], rooms_by_user: dict[int, list[str]]
) -> list[tuple[list[str], dict]]:
    """One (rooms, envelope) per recipient with a live session: each row has its own id."""
    actor = event.actor.get_username() if event.actor else app_settings.SYSTEM_NAME
    # Looked up once per chunk, and only when someone is live to see it.
    target = notifications.target_summary(event.target) if rooms_by_user and event.target_object_id else None
    messages = []
    for row in rows:
        rooms = rooms_by_user.get(row["recipient_id"])
        if rooms:
            payload = notifications.notification_payload(
                notification_id=row["id"],
                verb=event.verb,
                level=event.level,
                actor=actor,
                timestamp=row["timestamp"],
                unread=True,
                target=target,
            )
            messages.append((rooms, wire.notification_created(payload)))
    return messages

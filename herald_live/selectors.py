"""Read-side queries shared by views and the fan-out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone
from notifications.base.models import AbstractNotification
from notifications.swappable import load_notification_model as notification_model
from user_sessions.models import Session

from herald_live import sql, wire
from herald_live.conf import app_settings


def notification_payload(
    *,
    notification_id: int,
    verb: str,
    level: str,
    actor: str,
    timestamp,
    unread: bool,
    target: dict[str, str | None] | None = None,
    description: str | None = None,
) -> dict:
    """The JSON shape of one notification, for the JSON API and the live event alike (docs/wire.md)."""
    return {
        "id": notification_id,
        "verb": verb,
        "level": level,
        "actor": actor,
        "target": target,
        "description": description or "",
        "timestamp": timestamp.isoformat(),
        "unread": unread,
    }


def target_summary(target) -> dict[str, str | None] | None:
    """What a notification is about, as the widget shows it: its text, and a link if it has one."""
    if target is None:
        return None
    url = None
    get_url = getattr(target, "get_absolute_url", None)
    if callable(get_url):
        try:
            url = str(get_url())
        except Exception:  # noqa: BLE001 - a host model's broken URL must not break the list
            url = None
    return {"text": str(target), "url": url}


def serialize_notifications(notifications: Iterable[AbstractNotification]) -> list[dict[str, Any]]:
    return [serialize_notification(n) for n in notifications]


def serialize_notification(n: AbstractNotification) -> dict[str, Any]:
    return notification_payload(
        notification_id=n.id,
        verb=n.verb,
        level=n.level,
        actor=actor_name(n.actor),
        timestamp=n.timestamp,
        unread=n.unread,
        target=target_summary(n.target) if n.target_object_id else None,
        description=n.description,
    )


def actor_name(actor) -> str:
    """A user's name; Herald's name for system sends, whose actor is their event."""
    from herald_live.models import Event

    if actor is None or isinstance(actor, Event):
        return app_settings.SYSTEM_NAME
    get_username = getattr(actor, "get_username", None)
    return str(get_username() if callable(get_username) else actor)


def notifications_of(*, user) -> QuerySet:
    return notification_model().objects.filter(recipient=user, deleted=False).prefetch_related("actor", "target")


def unread_state(*, user, limit: int) -> dict[str, Any]:
    """What a client needs to (re)build its view: newest unread first, the count, the last id."""
    unread = notifications_of(user=user).filter(unread=True).order_by("-id")
    last = notification_model().objects.filter(recipient=user).order_by("-id").values_list("id", flat=True).first()
    return {
        "unread_count": unread_count(user=user),
        "notifications": serialize_notifications(unread[:limit]),
        "last_id": last or 0,
    }


def notification_page(*, user, unread_only: bool, before_id: int | None, limit: int) -> dict[str, Any]:
    """One page of the notification center, newest first: ``before_id`` pages back (keyset, never OFFSET).

    ``last_id`` is the newest id the user has at all: a client that took this page misses no
    notification at or below it, so live events above it are new to it (docs/wire.md).
    """
    rows = notifications_of(user=user)
    if unread_only:
        rows = rows.filter(unread=True)
    if before_id is not None:
        rows = rows.filter(id__lt=before_id)
    page = list(rows.order_by("-id")[: limit + 1])
    last = notification_model().objects.filter(recipient=user).order_by("-id").values_list("id", flat=True).first()
    return {
        "unread_count": unread_count(user=user),
        "notifications": serialize_notifications(page[:limit]),
        "has_more": len(page) > limit,
        "last_id": last or 0,
    }


def notifications_after(*, user, after_id: int, limit: int) -> dict[str, Any]:
    """What came after the last id a client saw, oldest first, read or not."""
    rows = notifications_of(user=user).filter(id__gt=after_id).order_by("id")[:limit]
    return {
        "unread_count": unread_count(user=user),
        "notifications": serialize_notifications(rows),
    }


def active_user_ids(*, user_ids: Iterable[int]) -> set[int]:
    """Which of these ids are active users, in one plain statement (one parameter, however many ids).

    Asked in every send request and every drain (herald_live/sql.py says why not the ORM).
    """
    model = get_user_model()
    wanted = set(user_ids)
    if not wanted:
        return set()
    pk = sql.quote(model._meta.pk.column)
    condition, params = sql.one_of(pk, wanted)
    statement = f"SELECT {pk} FROM {sql.table(model)} WHERE {condition}"  # noqa: S608
    if any(field.name == "is_active" for field in model._meta.concrete_fields):
        # A custom user model without the field counts every user active, as Django's ModelBackend does.
        statement += f" AND {sql.column(model, 'is_active')}"
    return {row[0] for row in sql.rows(statement, params)}


def live_session_rooms(*, user_ids: Iterable[int]) -> dict[int, list[str]]:
    """Rooms of every unexpired session of these users, in one query."""
    wanted = set(user_ids)
    rooms: dict[int, list[str]] = defaultdict(list)
    if not wanted:
        return rooms
    user_column = sql.column(Session, "user")
    low, high = min(wanted), max(wanted)
    if high - low < 2 * len(wanted):
        # Dense ids (a chunk of everyone): one range of the user_id index, then a set test here.
        # A thousand-item IN list cost six times as much on PostgreSQL.
        users, params = f"{user_column} >= %s AND {user_column} <= %s", [low, high]
    else:
        users, params = sql.one_of(user_column, wanted)
    # Plain SQL: every fan-out asks (herald_live/sql.py). A chunk's sessions fit in memory.
    found = sql.rows(
        f"SELECT {user_column}, {sql.column(Session, 'session_key')} FROM {sql.table(Session)} "  # noqa: S608
        f"WHERE {sql.column(Session, 'expire_date')} > %s AND {users}",
        [sql.prepared(Session, "expire_date", timezone.now()), *params],
    )
    for user_id, session_key in found:
        if user_id in wanted:
            rooms[user_id].append(wire.session_room(wire.session_digest(session_key)))
    return rooms


def sessions_of(*, user, current_session_key: str | None) -> list[dict[str, Any]]:
    """The user's live sessions for the sessions page, most recently active first."""
    sessions = Session.objects.filter(user=user, expire_date__gt=timezone.now()).order_by("-last_activity")
    return [
        {
            "digest": wire.session_digest(session.session_key),
            "user_agent": session.user_agent or "",
            "ip": session.ip,
            "last_activity": session.last_activity,
            "current": session.session_key == current_session_key,
        }
        for session in sessions
    ]


def session_expiry(*, session_key: str):
    """When the stored session expires (what decides whether it still gets notifications)."""
    return Session.objects.filter(session_key=session_key).values_list("expire_date", flat=True).first()


def unread_count(*, user) -> int:
    return notifications_of(user=user).filter(unread=True).count()


def active_user_id_chunks(*, size: int) -> Iterator[list[int]]:
    """Keyset pagination over active users, so 100k recipients never sit in one list."""
    users = get_user_model().objects.filter(is_active=True).order_by("pk")
    last = 0
    while True:
        chunk = list(users.filter(pk__gt=last).values_list("pk", flat=True)[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1]


def event_status(*, event_id: int) -> dict[str, Any]:
    """An event's progress, as the Python API, the HTTP API and the command report it.

    Raises Event.DoesNotExist for an unknown id.
    """
    from herald_live.models import Event, EventChunk

    event = Event.objects.get(pk=event_id)
    return {
        "id": event.pk,
        "status": event.status,
        "audience": event.audience,
        "chunks_total": event.chunks_total,
        "chunks_done": EventChunk.objects.filter(event=event).count(),
        "recipients": event.recipients_count,
        "rows_persisted": event.rows_persisted,
        "sessions_published": event.sessions_published,
        "created_at": event.created_at.isoformat(),
        "completed_at": event.completed_at.isoformat() if event.completed_at else None,
    }

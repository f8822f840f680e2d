"""A user's notifications as views, the widget, the fan-out and the channels read them, and their JSON shape."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.db.models import QuerySet
from notifications.base.models import AbstractNotification
from notifications.swappable import load_notification_model as notification_model

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


def unread_count(*, user) -> int:
    return notifications_of(user=user).filter(unread=True).count()


def safe_target_url(url: object) -> str | None:
    """``url`` if a browser may follow it from a notification: http(s), or a path on this site."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    # Browsers drop tabs and newlines inside URLs ("java\tscript:"); scheme-relative and backslash
    # forms ("//evil", "/\\evil") leave the site.
    if not url or any(ord(c) < 32 for c in url) or url.startswith(("//", "\\", "/\\")):
        return None
    parts = urlsplit(url)
    if parts.scheme:
        return url if parts.scheme in ("http", "https") and parts.netloc else None
    return url

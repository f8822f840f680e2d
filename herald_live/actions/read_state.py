"""Marking notifications read and unread: the row first, then every live session of the user, after commit."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from notifications.swappable import load_notification_model as notification_model

from herald_live import wire
from herald_live.actions import announce
from herald_live.selectors import notifications


def mark_all_read(*, user) -> int | None:
    """Marks every notification of the user read; returns the highest id it covered.

    The id travels with the live event so that a notification that arrives meanwhile
    stays unread in every tab.
    """
    with transaction.atomic():
        up_to_id = notification_model().objects.filter(recipient=user).aggregate(top=Max("id"))["top"]
        if up_to_id is None:
            return None
        notification_model().objects.filter(recipient=user, unread=True, id__lte=up_to_id).update(unread=False)
        announce.publish_all_read_on_commit(user_id=user.pk, up_to_id=up_to_id)
    return up_to_id


def mark_read(*, user, notification_id: int) -> bool:
    """Marks one of the user's notifications read; False when the user has no such notification."""
    with transaction.atomic():
        updated = notifications.notifications_of(user=user).filter(pk=notification_id).update(unread=False)
        if updated:
            announce.publish_to_user_on_commit(
                user_id=user.pk, envelope=wire.notification_read(notification_id=notification_id)
            )
    return bool(updated)


def mark_unread(*, user, notification_id: int) -> dict | None:
    """Marks one of the user's notifications unread again; its payload, or None when the user has no such one."""
    with transaction.atomic():
        rows = notifications.notifications_of(user=user).filter(pk=notification_id)
        if not rows.update(unread=True):
            return None
        payload = notifications.serialize_notification(rows.get())
        announce.publish_to_user_on_commit(user_id=user.pk, envelope=wire.notification_unread(payload))
    return payload

"""The claim that makes a digest go out at most once: recorded, with its notifications marked emailed, in one
transaction before anything is sent (email/digests.py, step 1).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from notifications.swappable import load_notification_model as notification_model

from herald_live.email.due import COUNTED, ON, DueDigest, pending_notifications, type_of_row, window
from herald_live.models import DeliverySettings, EmailDigest

# Ids per IN list: well under every database's limit on parameters.
ID_CHUNK = 500


class _Taken(Exception):
    """Another run claimed some of these notifications first."""


@dataclass(frozen=True)
class Claim:
    digest: EmailDigest
    email: str
    notification_ids: list[int]


def claim(*, due: DueDigest, now: datetime) -> Claim | None:
    """Records the digest and marks its notifications emailed, in one transaction; None if it is not due
    any more (read meanwhile, turned off, or another run claimed it)."""
    Notification = notification_model()
    try:
        with transaction.atomic():
            # One claim per user at a time (PostgreSQL; SQLite's transactions take the write lock up front).
            setting = (
                DeliverySettings.objects.select_for_update()
                .filter(user_id=due.user_id)
                .values_list("email_digest", flat=True)
                .first()
            )
            if setting not in ON:
                return None
            bounds = window(setting=setting, now=now)
            if EmailDigest.objects.filter(
                user_id=due.user_id, status__in=COUNTED, created_at__gte=bounds.last_before
            ).exists():
                return None
            rows = list(
                pending_notifications(now=now)
                .filter(recipient_id=due.user_id)
                .annotate(kind=type_of_row())
                .filter(kind__in=due.types)
                .values_list("id", "timestamp")
            )
            if not rows or min(timestamp for _, timestamp in rows) > bounds.rows_before:
                return None
            ids = sorted(pk for pk, _ in rows)
            digest = EmailDigest.objects.create(
                user_id=due.user_id, up_to_notification_id=ids[-1], notification_count=len(ids), created_at=now
            )
            marked = sum(
                Notification.objects.filter(pk__in=chunk, emailed=False).update(emailed=True) for chunk in chunks(ids)
            )
            if marked != len(ids):
                raise _Taken
    except (IntegrityError, _Taken):
        # A run beside this one claimed this batch (the unique user and last id) or some of its rows.
        return None
    return Claim(digest=digest, email=due.email, notification_ids=ids)


def chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start : start + ID_CHUNK]


def release(claim: Claim) -> None:
    """Undoes a claim whose email the server provably refused, so that the next run tries again."""
    with transaction.atomic():
        EmailDigest.objects.filter(pk=claim.digest.pk).delete()
        for chunk in chunks(claim.notification_ids):
            notification_model().objects.filter(pk__in=chunk).update(emailed=False)


def finish(claim: Claim, *, status: str, sent: int = 0, error: str = "") -> None:
    EmailDigest.objects.filter(pk=claim.digest.pk).update(
        status=status,
        sent_count=sent,
        sent_at=timezone.now() if status == EmailDigest.Status.SENT else None,
        error=error[:255],
    )


def still_unread(*, user_id: int, notification_ids: Sequence[int]) -> list[int]:
    """Those of the ids still unread and not deleted, newest first."""
    rows = notification_model().objects.filter(recipient_id=user_id, unread=True, deleted=False)
    ids: list[int] = []
    for chunk in chunks(notification_ids):
        ids += rows.filter(pk__in=chunk).values_list("pk", flat=True)
    return sorted(ids, reverse=True)

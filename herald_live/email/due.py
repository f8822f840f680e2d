"""When a user's email digest is due, and what it may list (docs/channels.md, "Email")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import BigIntegerField, Case, CharField, Count, F, Max, Min, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Cast, Coalesce
from notifications.swappable import load_notification_model as notification_model

from herald_live import notification_types
from herald_live.conf import app_settings
from herald_live.models import Channel, DeliverySettings, EmailDigest, Event
from herald_live.selectors import preferences

Setting = DeliverySettings.EmailDigest
# At most one "hourly" digest an hour.
HOURLY_SPACING = timedelta(hours=1)
# Digests that count as the user's last email: sent, or claimed by a worker that may have sent it.
COUNTED = (EmailDigest.Status.CLAIMED, EmailDigest.Status.SENT)

# ---- when a digest is due ------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A digest is due when its oldest notification is at or before ``rows_before`` and the user's
    last digest (claimed or sent) is before ``last_before``."""

    rows_before: datetime
    last_before: datetime


def daily_slot(*, now: datetime) -> datetime:
    """The latest HERALD_EMAIL_DIGEST_HOUR:00 UTC at or before ``now``."""
    slot = now.astimezone(UTC).replace(hour=app_settings.EMAIL_DIGEST_HOUR, minute=0, second=0, microsecond=0)
    return slot if slot <= now else slot - timedelta(days=1)


def delay() -> timedelta:
    """How long every digest waits after the oldest notification it lists: what is read by then is never mailed."""
    return timedelta(minutes=app_settings.EMAIL_DIGEST_DELAY_MINUTES)


def window(*, setting: str, now: datetime) -> Window:
    """ "10min" (after HERALD_EMAIL_DIGEST_DELAY_MINUTES): that long after the oldest unread one, so at most one
    email per that long. Hourly: the same, and at most one an hour. Daily: at the day's hour, for what arrived
    before it."""
    if setting == Setting.TEN_MINUTES:
        return Window(rows_before=now - delay(), last_before=now - delay())
    if setting == Setting.HOURLY:
        return Window(rows_before=now - delay(), last_before=now - HOURLY_SPACING)
    if setting == Setting.DAILY:
        slot = daily_slot(now=now)
        return Window(rows_before=slot, last_before=slot)
    raise ValueError(f"no digest window for {setting!r}")


ON = [value for value in Setting.values if value != Setting.OFF]


def without_address() -> list[int]:
    """Active users who chose a digest and have no email address: none can reach them (the check, the dry run
    and the preferences page say so)."""
    email_field = get_user_model().get_email_field_name()
    return list(
        DeliverySettings.objects.filter(email_digest__in=ON, user__is_active=True)
        .filter(Q(**{f"user__{email_field}": ""}) | Q(**{f"user__{email_field}__isnull": True}))
        .order_by("user_id")
        .values_list("user_id", flat=True)
    )


# ---- what a digest may list ------------------------------------------------------------------------


def pending_notifications(*, now: datetime):
    """Notifications no digest claimed yet, unread, not deleted, younger than HERALD_EMAIL_DIGEST_MAX_AGE_SECONDS."""
    oldest = now - timedelta(seconds=app_settings.EMAIL_DIGEST_MAX_AGE_SECONDS)
    return notification_model().objects.filter(unread=True, deleted=False, emailed=False, timestamp__gte=oldest)


def type_of_row():
    """A notification's type: its event's (its action object); the default for rows from elsewhere.

    A subquery on the event's primary key, in the same query. The cast runs only on rows whose action
    object is an event (a CASE branch), whose object id is always the event's number.
    """
    event_type = Event.objects.filter(pk=Cast(OuterRef("action_object_object_id"), BigIntegerField())).values(
        "notification_type"
    )[:1]
    return Coalesce(
        Case(
            When(action_object_content_type=ContentType.objects.get_for_model(Event), then=Subquery(event_type)),
            default=Value(notification_types.DEFAULT),
            output_field=CharField(),
        ),
        Value(notification_types.DEFAULT),
    )


@dataclass(frozen=True)
class DueDigest:
    """A user whose digest is due, as the selection saw them."""

    user_id: int
    email: str
    setting: str
    # The types of their pending notifications that have email on for them.
    types: frozenset[str]
    pending: int
    oldest: datetime


def due_digests(*, now: datetime) -> Iterator[list[DueDigest]]:
    """The users whose digest is due at ``now``, by batches of at most HERALD_EMAIL_DIGEST_BATCH_SIZE.

    Each batch costs the same few queries whatever its size (and one per notification type, for the
    users' choices): never one per user.
    """
    size = app_settings.EMAIL_DIGEST_BATCH_SIZE
    # The most lenient window of all settings: users not due by it are not due at all.
    loosest = max(window(setting=setting, now=now).rows_before for setting in ON)
    digest_on = DeliverySettings.objects.filter(email_digest__in=ON).values("user_id")
    candidates = (
        pending_notifications(now=now)
        .filter(recipient_id__in=digest_on)
        .values("recipient_id")
        .annotate(oldest=Min("timestamp"))
        .filter(oldest__lte=loosest)
        .order_by("recipient_id")
    )
    after = 0
    while True:
        page = [row["recipient_id"] for row in candidates.filter(recipient_id__gt=after)[:size]]
        if not page:
            return
        due = _due_among(user_ids=page, now=now)
        if due:
            yield due
        if len(page) < size:
            return
        after = page[-1]


@dataclass
class _Pending:
    types: set[str] = field(default_factory=set)
    count: int = 0
    oldest: datetime | None = None


def _due_among(*, user_ids: Sequence[int], now: datetime) -> list[DueDigest]:
    email_field = get_user_model().get_email_field_name()
    users = {
        row["user_id"]: row
        for row in DeliverySettings.objects.filter(user_id__in=user_ids, email_digest__in=ON, user__is_active=True)
        .exclude(Q(**{f"user__{email_field}": ""}) | Q(**{f"user__{email_field}__isnull": True}))
        .values("user_id", "email_digest", email=F(f"user__{email_field}"))
    }
    if not users:
        return []
    last_digest = dict(
        EmailDigest.objects.filter(user_id__in=users, status__in=COUNTED)
        .values("user_id")
        .annotate(last=Max("created_at"))
        .values_list("user_id", "last")
    )
    by_type: dict[str, dict[int, tuple[datetime, int]]] = defaultdict(dict)
    grouped = (
        pending_notifications(now=now)
        .filter(recipient_id__in=users)
        .annotate(kind=type_of_row())
        .values("recipient_id", "kind")
        .annotate(oldest=Min("timestamp"), rows=Count("id"))
        .order_by()
    )
    for row in grouped:
        by_type[row["kind"]][row["recipient_id"]] = (row["oldest"], row["rows"])
    pending: dict[int, _Pending] = defaultdict(_Pending)
    for kind, per_user in by_type.items():
        for user_id in preferences.enabled_users(notification_type=kind, channel=Channel.EMAIL, user_ids=per_user):
            oldest, rows = per_user[user_id]
            seen = pending[user_id]
            seen.types.add(kind)
            seen.count += rows
            seen.oldest = oldest if seen.oldest is None else min(seen.oldest, oldest)
    due = []
    for user_id in sorted(pending):
        seen, user = pending[user_id], users[user_id]
        bounds = window(setting=user["email_digest"], now=now)
        last = last_digest.get(user_id)
        if seen.oldest <= bounds.rows_before and (last is None or last < bounds.last_before):
            due.append(
                DueDigest(
                    user_id=user_id,
                    email=user["email"],
                    setting=user["email_digest"],
                    types=frozenset(seen.types),
                    pending=seen.count,
                    oldest=seen.oldest,
                )
            )
    return due

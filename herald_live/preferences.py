"""Who gets what: users' channel choices per notification type, their mutes, and their delivery settings.

Read by the fan-out inside its chunk queries (``in_app_recipients``: subqueries, never a query per
recipient) and by the push and email helpers (``enabled_users``: one query); written by the
preferences page and its JSON API (docs/channels.md).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.text import capfirst
from notifications.swappable import load_notification_model as notification_model

from herald_live import notification_types, selectors, sql
from herald_live.models import Channel, ChannelPreference, DeliverySettings, Event, Mute

# A timed mute lasts at most a year; longer is "for ever" (until unmuted).
MAX_MUTE_HOURS = 24 * 365


class InvalidPreferences(ValueError):
    """A choice that cannot be stored; the message says which and why."""


class NothingToMute(ValueError):
    """The notification is about no object: there is nothing to mute."""


def _active(mutes: QuerySet) -> QuerySet:
    return mutes.filter(Q(until__isnull=True) | Q(until__gt=timezone.now()))


# ---- the fan-out's and the channels' reads ---------------------------------------------------------


def in_app_recipients(users: QuerySet, *, event: Event) -> QuerySet:
    """``users`` without those who turned the event's type off in the site, or muted its target.

    Each is a (NOT) EXISTS on an index of its table, in the same query as ``users``: a chunk of
    recipients costs the same number of queries whatever the preferences. No row means no live
    message, no web push and no email either: those channels start from the rows.
    """
    kind = event.notification_type or notification_types.DEFAULT
    overrides = ChannelPreference.objects.filter(user=OuterRef("pk"), notification_type=kind, channel=Channel.IN_APP)
    if notification_types.default_of(kind, Channel.IN_APP):
        users = users.filter(~Exists(overrides.filter(enabled=False)))
    else:
        users = users.filter(Exists(overrides.filter(enabled=True)))
    if event.target_content_type_id is not None and event.target_object_id is not None:
        mutes = Mute.objects.filter(
            user=OuterRef("pk"),
            target_content_type_id=event.target_content_type_id,
            target_object_id=event.target_object_id,
        )
        users = users.filter(~Exists(_active(mutes)))
    return users


def drop_unwanted(recipients: Mapping[int, Collection[int]], *, events: Collection[Event]) -> dict[int, list[int]]:
    """For a batch of events fanned out together (the interactive drain): each event's recipients
    ({event id: user ids}) without those who turned its type off in the site or muted its target.

    The same rule as ``in_app_recipients``, for many events at once: two queries for the whole batch,
    whatever its size (one when no event has a target), never one per event or per recipient.
    """
    user_ids = {user_id for ids in recipients.values() for user_id in ids}
    if not user_ids:
        return {event.pk: [] for event in events}
    kinds = {event.notification_type or notification_types.DEFAULT for event in events}
    # Plain SQL: every drain asks (herald_live/sql.py).
    users, user_params = sql.one_of(sql.column(ChannelPreference, "user"), user_ids)
    types, type_params = sql.one_of_texts(sql.column(ChannelPreference, "notification_type"), kinds)
    user, kind, enabled, channel = (
        sql.column(ChannelPreference, name) for name in ("user", "notification_type", "enabled", "channel")
    )
    statement = (
        f"SELECT {user}, {kind}, {enabled} FROM {sql.table(ChannelPreference)} "  # noqa: S608 - names from the model
        f"WHERE {users} AND {types} AND {channel} = %s"
    )
    overrides = {
        (user_id, kind_): bool(on)  # SQLite answers 0 or 1
        for user_id, kind_, on in sql.rows(statement, [*user_params, *type_params, Channel.IN_APP.value])
    }
    targets = {
        (event.target_content_type_id, event.target_object_id)
        for event in events
        if event.target_content_type_id is not None and event.target_object_id is not None
    }
    muted: set[tuple[int, int, str]] = set()
    if targets:
        candidates = _active(
            Mute.objects.filter(
                user_id__in=user_ids,
                target_content_type_id__in={content_type for content_type, _ in targets},
                target_object_id__in={object_id for _, object_id in targets},
            )
        ).values_list("user_id", "target_content_type_id", "target_object_id")
        muted = {row for row in candidates if (row[1], row[2]) in targets}
    wanted = {}
    for event in events:
        kind = event.notification_type or notification_types.DEFAULT
        default = notification_types.default_of(kind, Channel.IN_APP)
        wanted[event.pk] = [
            user_id
            for user_id in recipients.get(event.pk, ())
            if overrides.get((user_id, kind), default)
            and (user_id, event.target_content_type_id, event.target_object_id) not in muted
        ]
    return wanted


def enabled_users(*, notification_type: str, channel: str, user_ids: Collection[int]) -> set[int]:
    """Those of ``user_ids`` for whom ``channel`` is on for the type (their choice, else its default); one query."""
    notification_types.check_channel(channel)
    wanted = set(user_ids)
    if not wanted:
        return set()
    default = notification_types.default_of(notification_type, channel)
    # Only the choices that differ from the default are looked up (and, by construction, stored).
    differing = set(
        ChannelPreference.objects.filter(
            user_id__in=wanted, notification_type=notification_type, channel=channel, enabled=not default
        ).values_list("user_id", flat=True)
    )
    return wanted - differing if default else differing & wanted


# ---- what the preferences page and its API show -----------------------------------------------------


def channel_choices() -> list[dict[str, str]]:
    return [{"channel": value, "label": str(capfirst(label))} for value, label in Channel.choices]


def digest_choices() -> list[dict[str, str]]:
    return [{"value": value, "label": str(capfirst(label))} for value, label in DeliverySettings.EmailDigest.choices]


def preferences_of(*, user) -> dict[str, Any]:
    """Every registered type with its defaults and the user's values, the email digest and the active mutes."""
    chosen: dict[tuple[str, str], bool] = {
        (kind, channel): enabled
        for kind, channel, enabled in ChannelPreference.objects.filter(user=user).values_list(
            "notification_type", "channel", "enabled"
        )
    }
    types = []
    for kind in notification_types.all_types():
        defaults = {channel: kind.default(channel) for channel in Channel.values}
        types.append(
            {
                "type": kind.name,
                "label": str(kind.label),
                "defaults": defaults,
                "channels": {
                    channel: chosen.get((kind.name, channel), default) for channel, default in defaults.items()
                },
            }
        )
    digest = DeliverySettings.objects.filter(user=user).values_list("email_digest", flat=True).first()
    return {
        "channels": channel_choices(),
        "types": types,
        "email_digest": digest or DeliverySettings.EmailDigest.OFF,
        "email_digest_choices": digest_choices(),
        "mutes": [mute_payload(mute) for mute in active_mutes(user=user)],
    }


def active_mutes(*, user) -> list[Mute]:
    return list(_active(Mute.objects.filter(user=user)).prefetch_related("target").order_by("-created_at", "-pk"))


def mute_payload(mute: Mute) -> dict[str, Any]:
    # A target deleted since is muted still (its id may come back in no other event): shown as such.
    return {
        "id": mute.pk,
        "target": selectors.target_summary(mute.target),
        "until": mute.until.isoformat() if mute.until else None,
    }


# ---- writes ---------------------------------------------------------------------------------------


def update(
    *,
    user,
    choices: Mapping[str, Mapping[str, bool]],
    email_digest: str | None = None,
    replace: bool = False,
) -> None:
    """Sets the user's ``choices`` ({type: {channel: on}}) and digest; ``replace``: all others back to defaults.

    Raises InvalidPreferences, and stores nothing, for an unknown type or channel or a value that is no
    boolean. A choice equal to the type's default removes the user's override.
    """
    wanted: dict[tuple[str, str], bool] = {}
    if not isinstance(choices, Mapping):
        raise InvalidPreferences("types must be an object of {type: {channel: true or false}}")
    for name, channels in choices.items():
        try:
            kind = notification_types.get(name)
        except notification_types.UnknownNotificationType as exc:
            raise InvalidPreferences(str(exc)) from None
        if not isinstance(channels, Mapping):
            raise InvalidPreferences(f"{name}: expected an object of {{channel: true or false}}")
        for channel, enabled in channels.items():
            try:
                notification_types.check_channel(channel)
            except ValueError as exc:
                raise InvalidPreferences(f"{name}: {exc}") from None
            if not isinstance(enabled, bool):
                raise InvalidPreferences(f"{name}.{channel} must be true or false")
            wanted[(kind.name, channel)] = enabled
    if email_digest is not None and email_digest not in DeliverySettings.EmailDigest.values:
        raise InvalidPreferences(
            f"email_digest must be one of {', '.join(DeliverySettings.EmailDigest.values)}, not {email_digest!r}"
        )
    with transaction.atomic():
        overrides = ChannelPreference.objects.filter(user=user)
        if replace:
            overrides.delete()
        for (name, channel), enabled in wanted.items():
            if enabled == notification_types.get(name).default(channel):
                overrides.filter(notification_type=name, channel=channel).delete()
            else:
                ChannelPreference.objects.update_or_create(
                    user=user, notification_type=name, channel=channel, defaults={"enabled": enabled}
                )
        if email_digest is None and replace:
            email_digest = DeliverySettings.EmailDigest.OFF
        if email_digest is not None:
            DeliverySettings.objects.update_or_create(user=user, defaults={"email_digest": email_digest})


def mute(*, user, notification_id: int, until: datetime | None = None) -> tuple[Mute, bool]:
    """Mutes what one of the user's notifications is about, until ``until`` or for ever; (mute, created).

    Raises Notification.DoesNotExist for a notification the user does not have, NothingToMute for one
    about nothing, InvalidPreferences for an ``until`` in the past. Muting again changes the end.
    """
    if until is not None and until <= timezone.now():
        raise InvalidPreferences("until must be in the future")
    Notification = notification_model()
    about = (
        Notification.objects.filter(recipient=user, deleted=False, pk=notification_id)
        .values_list("target_content_type_id", "target_object_id")
        .get()
    )
    content_type_id, object_id = about
    if content_type_id is None or object_id is None:
        raise NothingToMute("this notification is about nothing that can be muted")
    return Mute.objects.update_or_create(
        user=user,
        target_content_type_id=content_type_id,
        target_object_id=object_id,
        defaults={"until": until},
    )


def mute_end(*, until: Any = None, for_hours: Any = None) -> datetime | None:
    """The end of a mute from an ISO 8601 ``until`` or a number of hours; None (for ever) without either."""
    if until is not None and for_hours is not None:
        raise InvalidPreferences("give until or for_hours, not both")
    if for_hours is not None:
        if isinstance(for_hours, bool) or not isinstance(for_hours, int | float) or not 0 < for_hours <= MAX_MUTE_HOURS:
            raise InvalidPreferences(f"for_hours must be a number of hours from 0 to {MAX_MUTE_HOURS} (a year)")
        return timezone.now() + timedelta(hours=for_hours)
    if until is None:
        return None
    parsed = None
    if isinstance(until, str):
        try:
            parsed = datetime.fromisoformat(until)
        except ValueError:
            parsed = None
    if parsed is None:
        raise InvalidPreferences('until must be an ISO 8601 date and time, for example "2030-01-31T18:00:00Z"')
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    if parsed <= timezone.now():
        raise InvalidPreferences("until must be in the future")
    return parsed


def unmute(*, user, mute_id: int) -> bool:
    """Ends one of the user's mutes; False when the user has no such mute."""
    deleted, _ = Mute.objects.filter(user=user, pk=mute_id).delete()
    return bool(deleted)

"""Who gets what: users' channel choices per notification type, their mutes, and their delivery settings.

Read by the fan-out inside its chunk queries (``in_app_recipients``: subqueries, never a query per
recipient) and by the push and email helpers (``enabled_users``: one query); written by the
preferences page and its JSON API through actions/preferences.py (docs/channels.md).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import ngettext

from herald_live import notification_types
from herald_live.conf import app_settings
from herald_live.infra import sql
from herald_live.models import Channel, ChannelPreference, DeliverySettings, Event, Mute
from herald_live.selectors import notifications


def active(mutes: QuerySet) -> QuerySet:
    """The mutes of ``mutes`` still in force."""
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
        users = users.filter(~Exists(active(mutes)))
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
    # Plain SQL: every drain asks (herald_live/infra/sql.py).
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
        candidates = active(
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
    """The digest's choices as people read them: "10min" waits HERALD_EMAIL_DIGEST_DELAY_MINUTES (its stored
    value keeps its name)."""
    minutes = app_settings.EMAIL_DIGEST_DELAY_MINUTES
    labels = dict(DeliverySettings.EmailDigest.choices)
    labels[DeliverySettings.EmailDigest.TEN_MINUTES] = ngettext(
        "after %(count)s minute", "after %(count)s minutes", minutes
    ) % {"count": minutes}
    return [{"value": value, "label": str(capfirst(label))} for value, label in labels.items()]


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
        # Without one, a digest can be chosen and never arrives: the page says so beside the choice.
        "has_email_address": bool(getattr(user, user.get_email_field_name(), "")),
        "mutes": [mute_payload(mute) for mute in active_mutes(user=user)],
    }


def active_mutes(*, user) -> list[Mute]:
    return list(active(Mute.objects.filter(user=user)).prefetch_related("target").order_by("-created_at", "-pk"))


def mute_payload(mute: Mute) -> dict[str, Any]:
    # A target deleted since is muted still (its id may come back in no other event): shown as such.
    return {
        "id": mute.pk,
        "target": notifications.target_summary(mute.target),
        "until": mute.until.isoformat() if mute.until else None,
    }

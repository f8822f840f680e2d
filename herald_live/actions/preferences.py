"""Users' choices: per notification type and channel, the email digest, and mutes (docs/channels.md).

The preferences page, its JSON API and the email digests' unsubscribe link write through these; what
they decide is read by selectors/preferences.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from notifications.swappable import load_notification_model as notification_model

from herald_live import notification_types
from herald_live.models import ChannelPreference, DeliverySettings, Mute

# A timed mute lasts at most a year; longer is "for ever" (until unmuted).
MAX_MUTE_HOURS = 24 * 365


class InvalidPreferences(ValueError):
    """A choice that cannot be stored; the message says which and why."""


class NothingToMute(ValueError):
    """The notification is about no object: there is nothing to mute."""


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

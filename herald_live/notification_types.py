"""Notification types: what a producer names, and what users choose their channels by (docs/producers.md).

Each type is registered in code, once, with its default for every channel: Herald registers
``herald.message`` itself, and a site registers its own in its AppConfig.ready()::

    from herald_live import notification_types

    notification_types.register("comment.created", label=_("Comments on your posts"), email=False)

A user's choice is stored only where it differs from the type's default (ChannelPreference),
so a changed default reaches every user who never chose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.functional import Promise

DEFAULT = "herald.message"
MAX_NAME_LENGTH = 100  # Event.notification_type and ChannelPreference.notification_type
# Lowercase words of letters, digits, "_" or "-", each starting with a letter, joined by dots: "comment.created".
NAME = re.compile(r"[a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*)*")


class UnknownNotificationType(LookupError):
    """No type of that name was registered."""


@dataclass(frozen=True)
class NotificationType:
    name: str
    label: str | Promise
    in_app: bool = True
    push: bool = True
    email: bool = True
    # Web push even while the user has the site open (a live session shows it already otherwise).
    push_when_live: bool = False

    def default(self, channel: str) -> bool:
        """Whether the channel is on for a user who never chose."""
        return getattr(self, check_channel(channel))


# Every registered type by name. Written by register() only; a test that registers a type of its own swaps
# in a copy (monkeypatch.setattr(notification_types, "registry", dict(notification_types.registry))).
registry: dict[str, NotificationType] = {}


def check_channel(channel: object) -> str:
    """The channel if it is one of models.Channel; ValueError naming them otherwise."""
    # Imported here: a host's apps.py may import this module before the models are ready.
    from herald_live.models import Channel

    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}; channels are {', '.join(Channel.values)}")
    return channel


def check_name(name: object) -> str:
    """The name if it is a valid type name; ValueError saying why otherwise."""
    if not isinstance(name, str) or not name:
        raise ValueError("a notification type must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"a notification type must be at most {MAX_NAME_LENGTH} characters")
    if not NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a valid notification type: lowercase words of letters, digits, '_' or '-', "
            "each starting with a letter, joined by dots (for example 'comment.created')"
        )
    return name


def register(
    name: str,
    *,
    label: str | Promise,
    in_app: bool = True,
    push: bool = True,
    email: bool = True,
    push_when_live: bool = False,
) -> NotificationType:
    """Registers a type with its defaults; registering the same definition again is harmless."""
    check_name(name)
    if not str(label).strip():
        raise ValueError(f"notification type {name!r} needs a label (what the preferences page shows)")
    kind = NotificationType(
        name=name, label=label, in_app=in_app, push=push, email=email, push_when_live=push_when_live
    )
    existing = registry.get(name)
    if existing is not None and existing != kind:
        raise ValueError(f"notification type {name!r} is registered already, with other defaults")
    registry[name] = kind
    return kind


def get(name: str) -> NotificationType:
    """The registered type; UnknownNotificationType (with the registered names) otherwise."""
    kind = registry.get(name)
    if kind is None:
        known = ", ".join(sorted(registry)) or "none"
        raise UnknownNotificationType(
            f"unknown notification type {name!r}; register it in your AppConfig.ready() with "
            f"herald_live.notification_types.register() (registered: {known})"
        )
    return kind


def default_of(name: str, channel: str) -> bool:
    """A type's default for a channel; a name not registered (in this process) counts as all on.

    The fan-out asks this, not get(): an event recorded by a web process that knows a type a worker
    does not know yet (a deploy in progress) is delivered as before preferences existed, never failed.
    """
    kind = registry.get(name)
    if kind is None:
        check_channel(channel)
        return True
    return kind.default(channel)


def all_types() -> list[NotificationType]:
    """Every registered type, in registration order (Herald's own first)."""
    return list(registry.values())

"""Who may send to everyone: the one place that decides, for people and service tokens alike.

A send to everyone reaches every active user, so it is not for every user of a site: the send
form, its view and the HTTP API all ask ``can_send_to_everyone`` and nothing else.
"""

from __future__ import annotations

from typing import Any

from herald_live.models import ServiceToken

# Declared on Event.Meta.permissions; grant it to a user or a group in the admin.
SEND_TO_EVERYONE = "herald_live.send_to_everyone"

USER_REFUSED = (
    "Sending to everyone needs the permission herald_live.send_to_everyone (or a staff account); "
    "choose one recipient instead."
)
SERVICE_REFUSED = (
    "This service token may not send to everyone: it lacks the permission send_to_everyone "
    "(create one with `manage.py create_service_token NAME --everyone`); list user ids instead."
)


def can_send_to_everyone(who: Any) -> bool:
    """True for staff users, users holding ``herald_live.send_to_everyone`` (directly, through a
    group, or as superusers), and unrevoked service tokens created with ``--everyone``."""
    if isinstance(who, ServiceToken):
        return who.can_send_to_everyone and who.revoked_at is None
    if who is None or not getattr(who, "is_active", False):
        return False
    return bool(who.is_staff or who.has_perm(SEND_TO_EVERYONE))


def refusal_message(who: Any) -> str:
    """What a refused sender is told: it names the missing permission and what to do instead."""
    return SERVICE_REFUSED if isinstance(who, ServiceToken) else USER_REFUSED

"""Herald: live notifications for Django sites (docs/integrate.md). This is its public API.

A host site imports from here (``from herald_live import notify, mark_all_read``); every other module is
Herald's own and may move between releases. Names load on first use, so that importing the package (or the
pusher, which is part of it and never imports Django) loads nothing else. Public beyond these names: the
modules ``herald_live.notification_types`` (register a site's types), ``herald_live.urls`` and
``herald_live.notifications_urls`` (include them), ``herald_live.tasks`` (found by Celery's autodiscovery), the
template library ``{% load herald %}`` (``herald_bell``, ``herald_scripts``, ``herald_push_button``), the
``HERALD_*`` settings (read here as ``app_settings``), and the ``herald-pusher`` command.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.3.0"

# Each public name, and the module that defines it.
_HOMES = {
    # The producer API (docs/producers.md).
    "notify": "herald_live.producers",
    "EVERYONE": "herald_live.producers",
    "event_status": "herald_live.producers",
    "InvalidNotification": "herald_live.producers",
    "UnknownRecipients": "herald_live.producers",
    "check_text": "herald_live.producers",
    "BrokerUnavailable": "herald_live.actions.sending",
    "NotificationType": "herald_live.notification_types",
    "UnknownNotificationType": "herald_live.notification_types",
    # Who may send to everyone.
    "can_send_to_everyone": "herald_live.permissions",
    "SEND_TO_EVERYONE": "herald_live.permissions",
    # Read state, live in every session of the user.
    "mark_read": "herald_live.actions.read_state",
    "mark_unread": "herald_live.actions.read_state",
    "mark_all_read": "herald_live.actions.read_state",
    "publish_resync_on_commit": "herald_live.actions.announce",
    "publish_deleted_on_commit": "herald_live.actions.announce",
    # Sessions: ending one closes its sockets on every pusher.
    "end_session": "herald_live.actions.sessions",
    "revoke_session": "herald_live.actions.sessions",
    "revoke_other_sessions": "herald_live.actions.sessions",
    "end_all_sessions": "herald_live.actions.sessions",
    # A site's own send views: the per-user send limit, as a 429 response.
    "rate_limited": "herald_live.infra.http",
    # The settings, with their defaults.
    "app_settings": "herald_live.conf",
}

__all__ = ["__version__", *_HOMES]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'herald_live' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

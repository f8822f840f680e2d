"""Read-side queries about web push subscriptions (the sessions page's list, the fan-out's filter)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from herald_live import wire
from herald_live.models import PushSubscription


def push_subscriptions_of(*, user, current_session_key: str | None) -> list[dict[str, Any]]:
    """The user's devices with push on, newest first. The endpoint is a capability: only its host is shown."""
    current = wire.session_digest(current_session_key) if current_session_key else None
    rows = PushSubscription.objects.filter(user=user).order_by("-created_at", "-pk")
    return [
        {
            "id": row.pk,
            "user_agent": row.user_agent,
            "push_service": urlsplit(row.endpoint).hostname or "",
            "created_at": row.created_at,
            "last_success_at": row.last_success_at,
            "current_session": bool(current) and row.session_digest == current,
        }
        for row in rows
    ]


def subscribed_user_ids(*, user_ids: Iterable[int]) -> set[int]:
    """Which of these users have push on at least one device: one query on the user index."""
    wanted = set(user_ids)
    if not wanted:
        return set()
    return set(PushSubscription.objects.filter(user_id__in=wanted).values_list("user_id", flat=True).distinct())

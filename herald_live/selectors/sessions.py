"""Users' unexpired sessions (django-user-sessions): the rooms a message goes to, and the sessions page's list.

A session is named by its digest everywhere past this module (wire.session_digest): keys never leave it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.utils import timezone
from user_sessions.models import Session

from herald_live import wire
from herald_live.infra import sql


def live_session_rooms(*, user_ids: Iterable[int]) -> dict[int, list[str]]:
    """Rooms of every unexpired session of these users, in one query."""
    wanted = set(user_ids)
    rooms: dict[int, list[str]] = defaultdict(list)
    if not wanted:
        return rooms
    user_column = sql.column(Session, "user")
    low, high = min(wanted), max(wanted)
    if high - low < 2 * len(wanted):
        # Dense ids (a chunk of everyone): one range of the user_id index, then a set test here.
        # A thousand-item IN list cost six times as much on PostgreSQL.
        users, params = f"{user_column} >= %s AND {user_column} <= %s", [low, high]
    else:
        users, params = sql.one_of(user_column, wanted)
    # Plain SQL: every fan-out asks (herald_live/infra/sql.py). A chunk's sessions fit in memory.
    found = sql.rows(
        f"SELECT {user_column}, {sql.column(Session, 'session_key')} FROM {sql.table(Session)} "  # noqa: S608
        f"WHERE {sql.column(Session, 'expire_date')} > %s AND {users}",
        [sql.prepared(Session, "expire_date", timezone.now()), *params],
    )
    for user_id, session_key in found:
        if user_id in wanted:
            rooms[user_id].append(wire.session_room(wire.session_digest(session_key)))
    return rooms


def sessions_of(*, user, current_session_key: str | None) -> list[dict[str, Any]]:
    """The user's live sessions for the sessions page, most recently active first."""
    sessions = Session.objects.filter(user=user, expire_date__gt=timezone.now()).order_by("-last_activity")
    return [
        {
            "digest": wire.session_digest(session.session_key),
            "user_agent": session.user_agent or "",
            "ip": session.ip,
            "last_activity": session.last_activity,
            "current": session.session_key == current_session_key,
        }
        for session in sessions
    ]


def session_expiry(*, session_key: str):
    """When the stored session expires (what decides whether it still gets notifications)."""
    return Session.objects.filter(session_key=session_key).values_list("expire_date", flat=True).first()

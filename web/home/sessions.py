"""The sessions page's list: Herald's live sessions of a user, with when each one started.

django-user-sessions keeps no start time, so the site writes one into the session itself at
login (apps.py connects ``record_start``); sessions older than that show no start.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from user_sessions.models import Session

from herald_live import wire
from herald_live.selectors import sessions as session_selectors

STARTED_AT = "web.home.started_at"


def record_start(sender, request, user, **kwargs) -> None:
    """user_logged_in receiver: the new session remembers when it began (it is saved with the response)."""
    if getattr(request, "session", None) is not None:
        request.session[STARTED_AT] = timezone.now().isoformat()


def sessions_of(*, user, current_session_key: str | None) -> list[dict[str, Any]]:
    """Herald's list (most recently active first), each with ``started_at`` (a datetime or None)."""
    rows = session_selectors.sessions_of(user=user, current_session_key=current_session_key)
    stored = Session.objects.filter(user=user, expire_date__gt=timezone.now()).values_list(
        "session_key", "session_data"
    )
    started = {wire.session_digest(key): _started_at(data) for key, data in stored}
    for row in rows:
        row["started_at"] = started.get(row["digest"])
    return rows


def _started_at(session_data: str) -> datetime | None:
    if not session_data:
        return None
    value = Session(session_data=session_data).get_decoded().get(STARTED_AT)
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None

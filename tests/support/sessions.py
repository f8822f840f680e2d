"""Sessions made directly in the database, as django-user-sessions stores a login."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.utils import timezone
from user_sessions.models import Session


def live_session(user, *, expired: bool = False) -> str:
    key = secrets.token_hex(16)
    Session.objects.create(
        session_key=key,
        session_data="",
        user=user,
        user_agent="test",
        expire_date=timezone.now() + (timedelta(hours=-1) if expired else timedelta(hours=1)),
    )
    return key

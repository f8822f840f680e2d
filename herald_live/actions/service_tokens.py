"""Service tokens for the HTTP API: created (shown once) and revoked by management commands."""

from __future__ import annotations

import secrets

from django.utils import timezone

from herald_live.models import ServiceToken
from herald_live.selectors.service_tokens import PREFIX, token_digest


def create(*, name: str, can_send_to_everyone: bool = False) -> str:
    """Returns the token; it cannot be read back later. Sending to everyone must be asked for."""
    token = PREFIX + secrets.token_urlsafe(32)
    ServiceToken.objects.create(name=name, token_hash=token_digest(token), can_send_to_everyone=can_send_to_everyone)
    return token


def revoke(*, name: str) -> bool:
    return bool(ServiceToken.objects.filter(name=name, revoked_at__isnull=True).update(revoked_at=timezone.now()))

"""The pusher's connection token: what a page fetches before every (re)connect (docs/wire.md)."""

from __future__ import annotations

import math

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from herald_live import wire
from herald_live.conf import app_settings
from herald_live.infra.http import json_only, login_required_4xx, methods
from herald_live.selectors import sessions


@json_only
@never_cache
@login_required_4xx
@methods("GET")
def socket_token(request: HttpRequest):
    """A short-lived proof of this session for the pusher. It names the session by digest only.

    It also carries the session's stored expiry: the pusher closes the socket then.
    """
    expiry = sessions.session_expiry(session_key=request.session.session_key) or request.session.get_expiry_date()
    token = wire.sign_token(
        secret=app_settings.TOKEN_SECRET,
        session=wire.session_digest(request.session.session_key),
        user_id=request.user.pk,
        ttl_seconds=app_settings.TOKEN_TTL_SECONDS,
        session_expires_at=math.ceil(expiry.timestamp()),
    )
    return JsonResponse({"token": token, "expires_in": app_settings.TOKEN_TTL_SECONDS})

"""The notification center's JSON API and actions (docs/openapi.json), and the pusher's connection token.

Every action also works as a plain HTML form post (no JavaScript): it then redirects to ``next``.
"""

from __future__ import annotations

import math

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from herald_live import selectors, services, wire
from herald_live.conf import app_settings
from herald_live.http import error_response, json_only, login_required_4xx, methods, wants_json

MAX_PAGE_SIZE = 100


def _back(request: HttpRequest):
    """Where a plain form post returns: its ``next`` if it is on this site, else the page it came from."""
    for candidate in (request.POST.get("next"), request.headers.get("Referer")):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(candidate)
    return redirect("/")


def _whole_number(value: str | None, *, name: str, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise ValueError(_("%(name)s must be a whole number.") % {"name": name})
    return int(value)


@json_only
@never_cache
@login_required_4xx
@methods("GET")
def notification_list(request: HttpRequest):
    """A page of the notification center: ``?filter=unread|all&before=<id>&limit=<n>``, newest first."""
    which = request.GET.get("filter", "unread")
    if which not in ("unread", "all"):
        return error_response(request, status=400, message=_("filter must be unread or all."))
    try:
        before = _whole_number(request.GET.get("before"), name="before", default=None)
        limit = _whole_number(request.GET.get("limit"), name="limit", default=app_settings.PAGE_SIZE)
    except ValueError as exc:
        return error_response(request, status=400, message=str(exc))
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    return JsonResponse(
        selectors.notification_page(user=request.user, unread_only=which == "unread", before_id=before, limit=limit)
    )


@never_cache
@login_required
@methods("GET")
def notification_center(request: HttpRequest):
    """The notification center as a page of its own (``?filter=unread|all&before=<id>``): where the bell
    leads without JavaScript. Plain forms mark read, unread and all read; each comes back here."""
    which = request.GET.get("filter", "unread")
    if which not in ("unread", "all"):
        return error_response(request, status=400, message=_("filter must be unread or all."))
    try:
        before = _whole_number(request.GET.get("before"), name="before", default=None)
    except ValueError as exc:
        return error_response(request, status=400, message=str(exc))
    page = selectors.notification_page(
        user=request.user, unread_only=which == "unread", before_id=before, limit=app_settings.PAGE_SIZE
    )
    notifications = page["notifications"]
    return render(
        request,
        "herald/center.html",
        {
            "filter": which,
            "notifications": notifications,
            "unread_count": page["unread_count"],
            "before": before,
            "older": notifications[-1]["id"] if page["has_more"] and notifications else None,
        },
    )


@json_only
@never_cache
@login_required_4xx
@methods("GET")
def notification_state(request: HttpRequest):
    """The current unread state: what a client refetches on every connect and resync (docs/wire.md).

    ``?after=ID``: what came after an id, to page forward within one snapshot; not a catch-up, as ids
    are not delivered in order."""
    try:
        after = _whole_number(request.GET.get("after"), name="after", default=None)
    except ValueError as exc:
        return error_response(request, status=400, message=str(exc))
    if after is None:
        return JsonResponse(selectors.unread_state(user=request.user, limit=app_settings.STATE_PAGE_SIZE))
    return JsonResponse(selectors.notifications_after(user=request.user, after_id=after, limit=500))


@never_cache
@login_required_4xx
@methods("POST")
def mark_all_read(request: HttpRequest):
    up_to_id = services.mark_all_read(user=request.user)
    if wants_json(request):
        return JsonResponse({"up_to_id": up_to_id})
    return _back(request)


@never_cache
@login_required_4xx
@methods("POST")
def mark_read(request: HttpRequest, notification_id: int):
    if not services.mark_read(user=request.user, notification_id=notification_id):
        return error_response(request, status=404, message=_("You have no such notification."))
    if wants_json(request):
        return JsonResponse({"id": notification_id, "unread": False})
    return _back(request)


@never_cache
@login_required_4xx
@methods("POST")
def mark_unread(request: HttpRequest, notification_id: int):
    payload = services.mark_unread(user=request.user, notification_id=notification_id)
    if payload is None:
        return error_response(request, status=404, message=_("You have no such notification."))
    if wants_json(request):
        return JsonResponse(payload)
    return _back(request)


@json_only
@never_cache
@login_required_4xx
@methods("GET")
def socket_token(request: HttpRequest):
    """A short-lived proof of this session for the pusher. It names the session by digest only.

    It also carries the session's stored expiry: the pusher closes the socket then.
    """
    expiry = selectors.session_expiry(session_key=request.session.session_key) or request.session.get_expiry_date()
    token = wire.sign_token(
        secret=app_settings.TOKEN_SECRET,
        session=wire.session_digest(request.session.session_key),
        user_id=request.user.pk,
        ttl_seconds=app_settings.TOKEN_TTL_SECONDS,
        session_expires_at=math.ceil(expiry.timestamp()),
    )
    return JsonResponse({"token": token, "expires_in": app_settings.TOKEN_TTL_SECONDS})

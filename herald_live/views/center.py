"""The notification center's JSON API, its page of its own, and its actions (docs/openapi.json).

Every action also works as a plain HTML form post (no JavaScript): it then redirects to ``next``.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from herald_live.actions import read_state
from herald_live.conf import app_settings
from herald_live.infra.http import (
    back,
    csrf_checked,
    error_response,
    json_only,
    login_required_4xx,
    methods,
    wants_json,
    whole_number,
)
from herald_live.selectors import notifications

MAX_PAGE_SIZE = 100


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
        before = whole_number(request.GET.get("before"), name="before", default=None)
        limit = whole_number(request.GET.get("limit"), name="limit", default=app_settings.PAGE_SIZE)
    except ValueError as exc:
        return error_response(request, status=400, message=str(exc))
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    return JsonResponse(
        notifications.notification_page(user=request.user, unread_only=which == "unread", before_id=before, limit=limit)
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
        before = whole_number(request.GET.get("before"), name="before", default=None)
    except ValueError as exc:
        return error_response(request, status=400, message=str(exc))
    page = notifications.notification_page(
        user=request.user, unread_only=which == "unread", before_id=before, limit=app_settings.PAGE_SIZE
    )
    items = page["notifications"]
    return render(
        request,
        "herald/center.html",
        {
            "filter": which,
            "notifications": items,
            "unread_count": page["unread_count"],
            "before": before,
            "older": items[-1]["id"] if page["has_more"] and items else None,
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
        after = whole_number(request.GET.get("after"), name="after", default=None)
    except ValueError as exc:
        return error_response(request, status=400, message=str(exc))
    if after is None:
        return JsonResponse(notifications.unread_state(user=request.user, limit=app_settings.STATE_PAGE_SIZE))
    return JsonResponse(notifications.notifications_after(user=request.user, after_id=after, limit=500))


@csrf_checked
@never_cache
@login_required_4xx
@methods("POST")
def mark_all_read(request: HttpRequest):
    up_to_id = read_state.mark_all_read(user=request.user)
    if wants_json(request):
        return JsonResponse({"up_to_id": up_to_id})
    return back(request)


@csrf_checked
@never_cache
@login_required_4xx
@methods("POST")
def mark_read(request: HttpRequest, notification_id: int):
    if not read_state.mark_read(user=request.user, notification_id=notification_id):
        return error_response(request, status=404, message=_("You have no such notification."))
    if wants_json(request):
        return JsonResponse({"id": notification_id, "unread": False})
    return back(request)


@csrf_checked
@never_cache
@login_required_4xx
@methods("POST")
def mark_unread(request: HttpRequest, notification_id: int):
    payload = read_state.mark_unread(user=request.user, notification_id=notification_id)
    if payload is None:
        return error_response(request, status=404, message=_("You have no such notification."))
    if wants_json(request):
        return JsonResponse(payload)
    return back(request)

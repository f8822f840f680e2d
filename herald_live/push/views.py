"""Web push's HTTP side: the service worker script, and the browser's subscription (store, remove)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from herald_live.infra.http import (
    back,
    csrf_checked,
    error_response,
    json_only,
    login_required_4xx,
    methods,
    wants_json,
)
from herald_live.push import subscriptions as push_subscriptions
from herald_live.push import vapid

SERVICE_WORKER = Path(__file__).resolve().parent.parent / "static" / "herald" / "sw.js"
# A subscription is about 500 bytes of JSON; its endpoint at most 1000 characters.
MAX_BODY_BYTES = 4096


@cache
def _service_worker_source() -> bytes:
    return SERVICE_WORKER.read_bytes()


@methods("GET")
def service_worker(request: HttpRequest):
    """sw.js from the site's own origin (a service worker cannot come from a CDN or another host).

    Served at Herald's URL prefix, so its scope is that prefix: it never takes the place of a
    service worker the site has at "/" of its own. Push needs no wider scope.
    """
    response = HttpResponse(_service_worker_source(), content_type="text/javascript; charset=utf-8")
    # Browsers check for a new version at every registration; no cache between them and a deploy.
    response["Cache-Control"] = "no-cache"
    return response


@json_only
@csrf_checked
@never_cache
@login_required_4xx
@methods("POST", "DELETE")
def subscriptions(request: HttpRequest):
    """POST: store this browser's subscription (``PushSubscription.toJSON()``); DELETE ``{"endpoint"}``: remove it."""
    if not vapid.configured():
        return error_response(request, status=404, message=_("Web push is not configured on this site."))
    if len(request.body) > MAX_BODY_BYTES:
        return error_response(request, status=413, message=_("The subscription is too large."))
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return error_response(request, status=400, message=_("The body must be JSON."))
    if request.method == "DELETE":
        endpoint = data.get("endpoint") if isinstance(data, dict) else None
        if not isinstance(endpoint, str) or not endpoint:
            return error_response(request, status=400, message=_("Name the endpoint to remove."))
        if not push_subscriptions.remove(user=request.user, endpoint=endpoint):
            return error_response(request, status=404, message=_("This device has no subscription here."))
        return HttpResponse(status=204)
    try:
        subscription = push_subscriptions.parse(data)
        row, created = push_subscriptions.save(
            user=request.user,
            subscription=subscription,
            user_agent=request.headers.get("User-Agent", ""),
            session_key=request.session.session_key,
        )
    except push_subscriptions.InvalidSubscription as exc:
        return error_response(request, status=422, message=str(exc))
    except push_subscriptions.TooManySubscriptions as exc:
        return error_response(request, status=409, message=str(exc))
    return JsonResponse({"id": row.pk, "created": created}, status=201 if created else 200)


@csrf_checked
@never_cache
@login_required_4xx
@methods("POST")
def remove_subscription(request: HttpRequest, subscription_id: int):
    """Removes one of the user's devices by id: the remove button of a page that lists them (a form, or JSON)."""
    if not push_subscriptions.remove(user=request.user, subscription_id=subscription_id):
        return error_response(request, status=404, message=_("You have no such device."))
    if wants_json(request):
        return JsonResponse({"id": subscription_id, "removed": True})
    return back(request)

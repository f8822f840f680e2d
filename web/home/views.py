from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from herald_live import selectors, services, wire
from herald_live.conf import app_settings
from herald_live.http import error_response, login_required_4xx, methods, rate_limited, wants_json
from herald_live.metrics import SENDS_ACCEPTED, SENDS_REFUSED
from web.home.forms import EVERYONE, SendForm


def _home_context(request: HttpRequest, form: SendForm) -> dict:
    state = selectors.unread_state(user=request.user, limit=app_settings.STATE_PAGE_SIZE)
    for notification in state["notifications"]:
        notification["when"] = datetime.fromisoformat(notification["timestamp"])
    return {
        "form": form,
        "everyone": EVERYONE,
        "users": get_user_model()
        .objects.filter(is_active=True)
        .order_by("username")
        .values_list("username", flat=True),
        "notifications": state["notifications"],
        "levels": [value for value, _ in SendForm.base_fields["level"].choices],
    }


@never_cache
@login_required
@methods("GET")
def home(request: HttpRequest):
    return render(request, "home/home.html", _home_context(request, SendForm()))


@never_cache
@login_required_4xx
@methods("POST")
def send(request: HttpRequest):
    form = SendForm(request.POST)
    if not form.is_valid():
        SENDS_REFUSED.labels(reason="invalid").inc()
        if wants_json(request):
            return error_response(
                request, status=400, message="The notification was not sent.", errors=form.errors.get_json_data()
            )
        return render(request, "home/home.html", _home_context(request, form), status=400)
    refused = rate_limited(request, scope="send", subject=str(request.user.pk), limit=settings.HERALD_SEND_RATE_LIMIT)
    if refused:
        return refused
    recipient = form.cleaned_data["recipient"]
    event = services.send_notification(
        actor=request.user,
        recipient=recipient,
        everyone=recipient is None,
        verb=form.cleaned_data["message"],
        level=form.cleaned_data["level"],
    )
    SENDS_ACCEPTED.labels(audience=event.audience).inc()
    if wants_json(request):
        return JsonResponse({"event_id": event.pk, "status": event.status}, status=202)
    messages.success(request, "Sent.")
    return redirect("home")


@never_cache
@login_required
@methods("GET")
def sessions(request: HttpRequest):
    return render(
        request,
        "home/sessions.html",
        {"sessions": selectors.sessions_of(user=request.user, current_session_key=request.session.session_key)},
    )


@never_cache
@login_required_4xx
@methods("POST")
def revoke_session(request: HttpRequest):
    digest = request.POST.get("session", "")
    if digest == wire.session_digest(request.session.session_key):
        return error_response(request, status=400, message="To end this session, log out.")
    if not services.revoke_session(user=request.user, session_digest=digest):
        return error_response(request, status=404, message="That session has already ended.")
    if wants_json(request):
        return JsonResponse({"revoked": 1})
    messages.success(request, "The session was ended.")
    return redirect("sessions")


@never_cache
@login_required_4xx
@methods("POST")
def revoke_other_sessions(request: HttpRequest):
    count = services.revoke_other_sessions(user=request.user, current_session_key=request.session.session_key)
    if wants_json(request):
        return JsonResponse({"revoked": count})
    messages.success(request, f"Ended {count} other session{'s' if count != 1 else ''}.")
    return redirect("sessions")


def csrf_failure(request: HttpRequest, reason: str = ""):
    return error_response(request, status=403, message="Your form expired or lacks its CSRF token; reload and retry.")

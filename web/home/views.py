from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from herald_live import wire
from herald_live.actions import sending
from herald_live.actions import sessions as session_actions
from herald_live.conf import app_settings
from herald_live.infra.http import error_response, login_required_4xx, methods, rate_limited, wants_json
from herald_live.metrics import SENDS_ACCEPTED, SENDS_REFUSED
from herald_live.permissions import can_send_to_everyone, refusal_message
from herald_live.push import selectors as push_selectors
from web.home import sessions as session_list
from web.home.forms import SendForm, asks_for_everyone
from web.home.users import MAX_SUGGESTIONS, PREFIX_MAX_LENGTH, suggest_usernames


def _home_context(form: SendForm) -> dict:
    # No user list and no notification list: recipients come from /users/suggest/ as one types,
    # and the notifications are the widget's (base.html).
    return {"form": form, "levels": [value for value, _ in form.fields["level"].choices]}


@never_cache
@login_required
@methods("GET")
def home(request: HttpRequest):
    return render(request, "home/home.html", _home_context(SendForm(sender=request.user)))


@never_cache
@login_required_4xx
@methods("POST")
def send(request: HttpRequest):
    if asks_for_everyone(request.POST) and not can_send_to_everyone(request.user):
        # Refused before anything else, even for a form that lacks the field: no quota spent, nothing recorded.
        SENDS_REFUSED.labels(reason="forbidden").inc()
        return error_response(request, status=403, message=refusal_message(request.user))
    form = SendForm(request.POST, sender=request.user)
    if not form.is_valid():
        SENDS_REFUSED.labels(reason="invalid").inc()
        if wants_json(request):
            return error_response(
                request, status=400, message="The notification was not sent.", errors=form.errors.get_json_data()
            )
        return render(request, "home/home.html", _home_context(form), status=400)
    refused = rate_limited(request, scope="send", subject=str(request.user.pk), limit=app_settings.SEND_RATE_LIMIT)
    if refused:
        return refused
    everyone = form.cleaned_data["everyone"]
    event = sending.send_notification(
        actor=request.user,
        recipient=None if everyone else form.cleaned_data["recipient"],
        everyone=everyone,
        verb=form.cleaned_data["message"],
        level=form.cleaned_data["level"],
    )
    SENDS_ACCEPTED.labels(audience=event.audience).inc()
    if wants_json(request):
        return JsonResponse({"event_id": event.pk, "status": event.status}, status=202)
    messages.success(request, "Sent.")
    return redirect("home")


@never_cache
@login_required_4xx
@methods("GET")
def suggest_users(request: HttpRequest):
    """``?q=<prefix>``: up to ten active usernames that start with it (any case), for the recipient field."""
    prefix = request.GET.get("q", "")
    if not 1 <= len(prefix) <= PREFIX_MAX_LENGTH:
        return JsonResponse({"error": f"q must be 1 to {PREFIX_MAX_LENGTH} characters."}, status=400)
    if "\x00" in prefix:
        # No username holds one, and PostgreSQL refuses it in a query.
        return JsonResponse({"error": "q must not contain NUL characters."}, status=400)
    return JsonResponse({"usernames": suggest_usernames(prefix=prefix, limit=MAX_SUGGESTIONS)})


@never_cache
@login_required
@methods("GET")
def sessions(request: HttpRequest):
    current = request.session.session_key
    return render(
        request,
        "home/sessions.html",
        {
            "sessions": session_list.sessions_of(user=request.user, current_session_key=current),
            # Devices with web push on (they get pushes while this user is away from the site), each removable.
            "push_devices": push_selectors.push_subscriptions_of(user=request.user, current_session_key=current),
        },
    )


@never_cache
@login_required_4xx
@methods("POST")
def revoke_session(request: HttpRequest):
    digest = request.POST.get("session", "")
    if digest == wire.session_digest(request.session.session_key):
        return error_response(request, status=400, message="To end this session, log out.")
    if not session_actions.revoke_session(user=request.user, session_digest=digest):
        return error_response(request, status=404, message="That session has already ended.")
    if wants_json(request):
        return JsonResponse({"revoked": 1})
    messages.success(request, "The session was ended.")
    return redirect("sessions")


@never_cache
@login_required_4xx
@methods("POST")
def revoke_other_sessions(request: HttpRequest):
    count = session_actions.revoke_other_sessions(user=request.user, current_session_key=request.session.session_key)
    if wants_json(request):
        return JsonResponse({"revoked": count})
    messages.success(request, f"Ended {count} other session{'s' if count != 1 else ''}.")
    return redirect("sessions")


def csrf_failure(request: HttpRequest, reason: str = ""):
    return error_response(request, status=403, message="Your form expired or lacks its CSRF token; reload and retry.")

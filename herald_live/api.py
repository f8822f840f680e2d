"""The HTTP API for other services (docs/openapi.json): bearer service tokens, JSON in and out."""

from __future__ import annotations

import hashlib
import json
from functools import wraps

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from herald_live import producers, selectors, tokens
from herald_live.conf import app_settings
from herald_live.http import rate_limited
from herald_live.metrics import SENDS_ACCEPTED, SENDS_REFUSED
from herald_live.models import Event
from herald_live.permissions import SEND_TO_EVERYONE, can_send_to_everyone, refusal_message

MAX_RECIPIENT_IDS = 10_000


def _error(status: int, message: str, errors: dict | None = None) -> JsonResponse:
    body = {"error": message, **({"errors": errors} if errors else {})}
    return JsonResponse(body, status=status)


def service_token_required(view):
    """Bearer token auth; the API has no cookies, so no CSRF."""

    @csrf_exempt
    @never_cache
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        service = tokens.authenticate(token=token.strip()) if scheme.lower() == "bearer" else None
        if service is None:
            response = _error(401, "A valid service token is required (Authorization: Bearer <token>).")
            response["WWW-Authenticate"] = 'Bearer realm="herald"'
            return response
        request.service_token = service
        return view(request, *args, **kwargs)

    return wrapper


@service_token_required
def events(request: HttpRequest):
    if request.method != "POST":
        response = _error(405, f"{request.method} is not allowed here; use POST.")
        response["Allow"] = "POST"
        return response
    try:
        body = json.loads(request.body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "The body must be JSON.")
    if not isinstance(body, dict):
        return _error(400, "The body must be a JSON object.")
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= 255):
        return _error(400, "Idempotency-Key must be 1 to 255 characters.")
    recipients = body.get("recipients")
    if recipients == "everyone":
        recipients = producers.EVERYONE
    elif isinstance(recipients, list):
        if len(recipients) > MAX_RECIPIENT_IDS:
            return _error(
                413, f"At most {MAX_RECIPIENT_IDS} recipient ids per event; send more events or use everyone."
            )
        if not all(isinstance(item, int) and not isinstance(item, bool) and item > 0 for item in recipients):
            return _error(400, "Invalid event.", {"recipients": 'a list of positive user ids, or "everyone"'})
    else:
        return _error(400, "Invalid event.", {"recipients": 'a list of user ids, or "everyone"'})
    # Before the rate limit and the idempotency lookup: a refused token spends nothing and learns nothing.
    if recipients is producers.EVERYONE and not can_send_to_everyone(request.service_token):
        SENDS_REFUSED.labels(reason="forbidden").inc()
        return _error(403, refusal_message(request.service_token), {"recipients": f"needs {SEND_TO_EVERYONE}"})
    refused = rate_limited(
        request, scope="api", subject=str(request.service_token.pk), limit=app_settings.API_RATE_LIMIT
    )
    if refused:
        return refused
    replay = key is not None and Event.objects.filter(idempotency_key=_scoped(request, key)).exists()
    try:
        event_id = producers.notify(
            recipients=recipients,
            verb=body.get("verb"),
            level=body.get("level", "info"),
            data=body.get("data"),
            idempotency_key=_scoped(request, key) if key is not None else None,
        )
    except producers.InvalidNotification as exc:
        SENDS_REFUSED.labels(reason="invalid").inc()
        return _error(400, "Invalid event.", {"event": str(exc)})
    if not replay:
        SENDS_ACCEPTED.labels(audience="everyone" if recipients is producers.EVERYONE else "users").inc()
    status = selectors.event_status(event_id=event_id)
    response = JsonResponse(
        {"event_id": event_id, "status": status["status"], "status_url": reverse("herald:api_event", args=[event_id])},
        status=202,
    )
    if replay:
        response["Idempotent-Replayed"] = "true"
    return response


@service_token_required
def event_detail(request: HttpRequest, event_id: int):
    if request.method != "GET":
        response = _error(405, f"{request.method} is not allowed here; use GET.")
        response["Allow"] = "GET"
        return response
    try:
        return JsonResponse(selectors.event_status(event_id=event_id))
    except Event.DoesNotExist:
        return _error(404, f"No event {event_id}.")


def _scoped(request: HttpRequest, key: str) -> str:
    """Keys are per token: two services cannot collide, or reach each other's events by key."""
    return f"api:{request.service_token.pk}:{hashlib.sha256(key.encode()).hexdigest()}"

"""The HTTP API for other services (docs/openapi.json): bearer service tokens, JSON in and out."""

from __future__ import annotations

import hashlib
import json
from functools import wraps

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from herald_live import notification_types, producers
from herald_live.conf import app_settings
from herald_live.infra.http import rate_limited
from herald_live.metrics import SENDS_ACCEPTED, SENDS_REFUSED
from herald_live.models import Event
from herald_live.permissions import SEND_TO_EVERYONE, can_send_to_everyone, refusal_message
from herald_live.selectors import events as event_selectors
from herald_live.selectors import service_tokens

MAX_RECIPIENT_IDS = 10_000
# The largest id a database's bigint holds: beyond it, no user has it (and SQLite cannot even compare it).
MAX_USER_ID = 2**63 - 1
# This endpoint reads its body itself, with a limit of its own: the site's DATA_UPLOAD_MAX_MEMORY_SIZE
# stays as small as its forms need (Django's default 2.5 MiB, or the reference site's 64 KiB, which
# 10,000 ids of 8 digits would pass). Derived so that every valid event fits, pretty-printed too:
# 10,000 ids of up to 19 digits, one per line (about 230,000 bytes), a verb of 255 characters each
# escaped as a surrogate pair (3,060), data at its 16 KiB limit; tests/herald_live/test_api.py checks it.
MAX_BODY_BYTES = 256 * 1024


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
        service = service_tokens.authenticate(token=token.strip()) if scheme.lower() == "bearer" else None
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
    raw = _read_body(request)
    if raw is None:
        SENDS_REFUSED.labels(reason="invalid").inc()
        return _error(
            413,
            f"The body must be at most {MAX_BODY_BYTES} bytes. An event names at most {MAX_RECIPIENT_IDS} "
            'recipient ids; for more, send several events or use "everyone".',
        )
    try:
        body = json.loads(raw or b"null", parse_constant=_no_constant)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return _error(400, "The body must be JSON (UTF-8, without NaN or Infinity).")
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
        if not all(
            isinstance(item, int) and not isinstance(item, bool) and 0 < item <= MAX_USER_ID for item in recipients
        ):
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
    verb, level, data = body.get("verb"), body.get("level", "info"), body.get("data")
    kind = body.get("type", notification_types.DEFAULT)
    try:
        # Before the fingerprint, which serialises data as this check does.
        producers.check_data(data)
    except producers.InvalidNotification as exc:
        return _invalid(exc)
    try:
        producers.check_type(kind)
    except producers.InvalidNotification as exc:
        SENDS_REFUSED.labels(reason="invalid").inc()
        return _error(400, "Invalid event.", {"type": str(exc)})
    scoped = _scoped(request, key) if key is not None else None
    fingerprint = (
        _fingerprint(recipients=body["recipients"], verb=verb, level=level, data=data, kind=kind) if scoped else ""
    )
    if scoped is not None:
        earlier = Event.objects.filter(idempotency_key=scoped).values_list("pk", flat=True).first()
        if earlier is not None:
            return _replay_or_conflict(event_id=earlier, fingerprint=fingerprint)
    try:
        event, created = producers.record(
            recipients=recipients,
            verb=verb,
            level=level,
            data=data,
            idempotency_key=scoped,
            service_token=request.service_token,
            idempotency_fingerprint=fingerprint,
            notification_type=kind,
        )
    except producers.UnknownRecipients as exc:
        SENDS_REFUSED.labels(reason="invalid").inc()
        refusal = {
            "error": str(exc),
            "errors": {"recipients": f"{len(exc.user_ids)} unknown or inactive user ids"},
            "unknown_recipient_ids": exc.user_ids,
        }
        return JsonResponse(refusal, status=400)
    except producers.InvalidNotification as exc:
        return _invalid(exc)
    if not created:
        # Another request with this key recorded its event between the lookup above and this insert.
        return _replay_or_conflict(event_id=event.pk, fingerprint=fingerprint)
    SENDS_ACCEPTED.labels(audience="everyone" if recipients is producers.EVERYONE else "users").inc()
    # Just recorded: its status is the one it was created with; no query for it (issue 13, throughput).
    return _accepted(event.pk, status=event.status)


@service_token_required
def event_detail(request: HttpRequest, event_id: int):
    if request.method != "GET":
        response = _error(405, f"{request.method} is not allowed here; use GET.")
        response["Allow"] = "GET"
        return response
    # Another token's event, or one sent from elsewhere, is as missing as one that never was:
    # 404, never 403, so ids cannot be probed.
    if not Event.objects.filter(pk=event_id, service_token=request.service_token).exists():
        return _error(404, f"No event {event_id}.")
    return JsonResponse(event_selectors.event_status(event_id=event_id))


def _read_body(request: HttpRequest) -> bytes | None:
    """The body, read with this endpoint's limit (request.body would apply the site's); None if larger."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return None
    raw = request.read(MAX_BODY_BYTES + 1)
    return None if len(raw) > MAX_BODY_BYTES else raw


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _invalid(exc: producers.InvalidNotification) -> JsonResponse:
    SENDS_REFUSED.labels(reason="invalid").inc()
    return _error(400, "Invalid event.", {"event": str(exc)})


def _fingerprint(*, recipients, verb, level, data, kind) -> str:
    """What a retry must repeat: the event's fields as sent, in canonical JSON (key order and spacing aside).

    The default type is left out, so that events keyed before types existed keep their fingerprint.
    """
    fields = {"recipients": recipients, "verb": verb, "level": level, "data": data}
    if kind != notification_types.DEFAULT:
        fields["type"] = kind
    canonical = json.dumps(
        fields,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay_or_conflict(*, event_id: int, fingerprint: str) -> JsonResponse:
    """The earlier event for a reused key: replayed for the same body, refused (422) for another.

    Keyed events recorded before fingerprints were kept have none, and replay for any body, as then.
    """
    stored = Event.objects.filter(pk=event_id).values_list("idempotency_fingerprint", flat=True).get()
    if stored and stored != fingerprint:
        SENDS_REFUSED.labels(reason="conflict").inc()
        return _error(
            422,
            f"This Idempotency-Key was used for event {event_id} with another body; nothing was sent. "
            "Retry with the same body to get that event, or use a new key for a new event.",
            {"Idempotency-Key": "reused with a different body"},
        )
    response = _accepted(event_id)
    response["Idempotent-Replayed"] = "true"
    return response


def _accepted(event_id: int, *, status: str | None = None) -> JsonResponse:
    if status is None:
        status = event_selectors.event_status(event_id=event_id)["status"]
    return JsonResponse(
        {"event_id": event_id, "status": status, "status_url": reverse("herald:api_event", args=[event_id])},
        status=202,
    )


def _scoped(request: HttpRequest, key: str) -> str:
    """Keys are per token: two services cannot collide, or reach each other's events by key."""
    return f"api:{request.service_token.pk}:{hashlib.sha256(key.encode()).hexdigest()}"

"""Helpers that make every error a clear response, as JSON for API clients or HTML for people."""

from __future__ import annotations

from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from herald_live.conf import app_settings
from herald_live.infra import ratelimit
from herald_live.metrics import SENDS_REFUSED


def wants_json(request: HttpRequest) -> bool:
    return (
        getattr(request, "herald_json_only", False)
        or "application/json" in request.headers.get("Accept", "")
        or "/api/" in request.path
    )


def json_only(view):
    """An endpoint that only ever answers JSON: its errors too, whatever the Accept header says."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        request.herald_json_only = True
        return view(request, *args, **kwargs)

    return wrapper


def error_response(request: HttpRequest, *, status: int, message: str, errors: dict | None = None):
    if wants_json(request):
        body = {"error": message}
        if errors:
            body["errors"] = errors
        return JsonResponse(body, status=status)
    # The host's own error.html if it has one (it then looks like the rest of the site), else Herald's.
    return render(request, ["error.html", "herald/error.html"], {"status": status, "message": message}, status=status)


def csrf_checked(view):
    """Django's CSRF check, refused as JSON to a JSON client: a site's CSRF_FAILURE_VIEW is an HTML page.

    The check is the one the site's CsrfViewMiddleware makes (its process_view, the same cookie, header and
    trusted origins); the view is marked exempt so that the middleware leaves the check to this wrapper. A page's
    plain form post still gets the site's own failure page.
    """
    checker = CsrfViewMiddleware(lambda request: None)

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        refused = checker.process_view(request, view, args, kwargs)
        if refused is None:
            return view(request, *args, **kwargs)
        if wants_json(request) or request.content_type == "application/json":
            request.herald_json_only = True  # a JSON body gets a JSON answer, whatever its Accept header
            return error_response(
                request, status=403, message=_("The request has no valid CSRF token. Reload the page and try again.")
            )
        return refused

    wrapper.csrf_exempt = True
    return wrapper


def login_required_4xx(view):
    """Anonymous callers of an action or an API get 401, never a redirect they cannot follow."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return error_response(request, status=401, message="Log in first.")
        return view(request, *args, **kwargs)

    return wrapper


def methods(*allowed: str):
    """Like require_http_methods, with a body that says what went wrong."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in allowed:
                response = error_response(
                    request, status=405, message=f"{request.method} is not allowed here; use {', '.join(allowed)}."
                )
                response["Allow"] = ", ".join(allowed)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def rate_limited(request: HttpRequest, *, scope: str, subject: str, limit: int) -> HttpResponse | None:
    """A 429 with Retry-After once ``subject`` passed ``limit`` in the window; None while allowed."""
    allowed, retry_after = ratelimit.allow(
        scope=scope, subject=subject, limit=limit, window_seconds=app_settings.SEND_RATE_WINDOW_SECONDS
    )
    if allowed:
        return None
    SENDS_REFUSED.labels(reason="rate_limited").inc()
    response = error_response(request, status=429, message=f"Too many sends. Try again in {retry_after} seconds.")
    response["Retry-After"] = str(retry_after)
    return response


def back(request: HttpRequest):
    """Where a plain form post returns: its ``next`` if it is on this site, else the page it came from."""
    for candidate in (request.POST.get("next"), request.headers.get("Referer")):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(candidate)
    return redirect("/")


def whole_number(value: str | None, *, name: str, default: int | None) -> int | None:
    """A query or form parameter that must be a whole number; ValueError, with a message for the caller."""
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise ValueError(_("%(name)s must be a whole number.") % {"name": name})
    return int(value)

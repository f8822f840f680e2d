"""The reference site's Content-Security-Policy: scripts, styles and connections from the site itself only.

Django 5.2 has no CSP middleware; this one sets a single header on every response. Nothing on the site is inline
(no ``<script>`` body, no ``on…=`` handler, no ``style=""``): Herald's template tags emit none either, so any
host with a policy as strict as this one can use them. The only source beyond 'self' is the pusher, whose socket
(polling over http(s), then the websocket over ws(s)) the widget opens at ``HERALD_PUSHER_URL``; an empty URL
means the same origin, which 'self' covers (ws: and wss: included).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

HEADER = "Content-Security-Policy"
WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss"}


def pusher_sources(pusher_url: str) -> list[str]:
    """The origins ``connect-src`` needs for the pusher: its http(s) origin and the matching ws(s) one."""
    if not pusher_url:
        return []
    parts = urlsplit(pusher_url)
    if parts.scheme not in WEBSOCKET_SCHEMES or not parts.netloc:
        raise ValueError(f"HERALD_PUSHER_URL must be an http(s) URL or empty, got {pusher_url!r}")
    host = parts.netloc.rsplit("@", 1)[-1]  # never a userinfo part in a header
    return [f"{parts.scheme}://{host}", f"{WEBSOCKET_SCHEMES[parts.scheme]}://{host}"]


def build_policy(*, pusher_url: str) -> str:
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Bootstrap draws form controls with data: SVGs; the favicon is data: too.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", *pusher_sources(pusher_url)],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


class ContentSecurityPolicyMiddleware:
    """Adds the policy to every response that has none of its own."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        # Built once per process: a bad HERALD_PUSHER_URL fails at the first request's start-up, loudly.
        self.policy = build_policy(pusher_url=settings.HERALD_PUSHER_URL)

    def __call__(self, request):
        response = self.get_response(request)
        if settings.DEBUG and response.status_code >= 500:
            # Django's technical error page (DEBUG only) needs its inline script.
            return response
        if HEADER not in response.headers:
            response.headers[HEADER] = self.policy
        return response

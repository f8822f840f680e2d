"""The reference site's Content-Security-Policy: scripts, styles and connections from the site itself only.

django-csp's middleware (``csp.middleware.CSPMiddleware``) sends it from the ``CONTENT_SECURITY_POLICY`` setting,
which web/settings.py takes from :func:`content_security_policy`. It leaves a response's own policy alone and sends
none on DEBUG's technical 404 and 500 pages (their inline script); the hand-written middleware it replaced skipped
every DEBUG 5xx, and the 404 page not at all.
Nothing on the site is inline (no ``<script>`` body, no ``on…=`` handler, no ``style=""``): Herald's template tags
emit none either, so any host with a policy as strict as this one can use them. The only source beyond 'self' is
the pusher, whose socket (polling over http(s), then the websocket over ws(s)) the widget opens at
``HERALD_PUSHER_URL``; an empty URL means the same origin, which 'self' covers (ws: and wss: included).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from csp.constants import NONE, SELF
from csp.utils import build_policy as django_csp_build_policy

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


def content_security_policy(*, pusher_url: str) -> dict:
    """django-csp's ``CONTENT_SECURITY_POLICY`` setting. A bad ``pusher_url`` raises, so the settings fail to load."""
    return {
        "DIRECTIVES": {
            "default-src": [SELF],
            "script-src": [SELF],
            "style-src": [SELF],
            # Bootstrap draws form controls with data: SVGs; the favicon is data: too.
            "img-src": [SELF, "data:"],
            "font-src": [SELF],
            "connect-src": [SELF, *pusher_sources(pusher_url)],
            "object-src": [NONE],
            "base-uri": [SELF],
            "form-action": [SELF],
            "frame-ancestors": [NONE],
        }
    }


def build_policy(*, pusher_url: str) -> str:
    """The header the middleware sends for that setting, rendered by django-csp itself."""
    return django_csp_build_policy(config=content_security_policy(pusher_url=pusher_url)["DIRECTIVES"])

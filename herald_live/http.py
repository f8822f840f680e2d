"""Deprecated since 0.3.0: Herald's HTTP helpers moved to herald_live/infra/http.py.

A site's own send views import ``rate_limited`` from ``herald_live``.
"""

from herald_live.deprecation import moved

MOVED = {
    "rate_limited": "herald_live",
    **dict.fromkeys(
        ("error_response", "json_only", "login_required_4xx", "methods", "wants_json"), "herald_live.infra.http"
    ),
}
__all__ = sorted(MOVED)
__getattr__ = moved("herald_live.http", MOVED)

"""Deprecated since 0.3.0: Herald's HTTP helpers moved to herald_live/infra/http.py.

A site's own send views import ``rate_limited`` from ``herald_live``.
"""

from herald_live.deprecation import moved

__getattr__ = moved(
    "herald_live.http",
    {
        "rate_limited": "herald_live",
        "error_response": "herald_live.infra.http",
        "json_only": "herald_live.infra.http",
        "login_required_4xx": "herald_live.infra.http",
        "methods": "herald_live.infra.http",
        "wants_json": "herald_live.infra.http",
    },
)

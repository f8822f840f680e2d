"""What the web depends on, checked cheaply: ``/healthz`` and the pre-flight of every send."""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from herald_live.infra.health import broker_reachable


def database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False


@never_cache
def healthz(request):
    checks = {
        "database": "up" if database_reachable() else "down",
        "redis": "up" if broker_reachable() else "down",
    }
    healthy = all(value == "up" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unhealthy", **checks}, status=200 if healthy else 503)

"""Uncaught errors: a clear page, never a traceback; 503 when a dependency is down."""

from __future__ import annotations

import sys

import redis
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from kombu.exceptions import OperationalError as BrokerError

UNAVAILABLE = (DatabaseError, redis.RedisError, BrokerError)
UNAVAILABLE_MESSAGE = (
    "Herald cannot reach its database or message queue right now. Nothing was changed; please try again."
)
ERROR_MESSAGE = "Something went wrong on our side. It was logged; please try again."


def server_error(request):
    """handler500. Django calls it inside its except block, so the exception is at hand.

    It renders no template: the error may be the database that a template's context needs.
    """
    unavailable = isinstance(sys.exc_info()[1], UNAVAILABLE)
    status, message = (503, UNAVAILABLE_MESSAGE) if unavailable else (500, ERROR_MESSAGE)
    # JSON for the widget (it asks for it) and for the APIs: Herald's /herald/api/v1/, django-notifications' .../api/.
    if "application/json" in request.headers.get("Accept", "") or "/api/" in request.path:
        response = JsonResponse({"error": message}, status=status)
    else:
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Herald</title></head>'
            f"<body><h1>{'Unavailable' if unavailable else 'Error'}</h1><p>{message}</p>"
            '<p><a href="/">Back to Herald</a></p></body></html>'
        )
        response = HttpResponse(page, status=status)
    if unavailable:
        response["Retry-After"] = "5"
    return response

"""Uncaught errors: a clear page, never a traceback; 503 when a dependency is down."""

from __future__ import annotations

import logging
import sys

import redis
from django.db import DatabaseError, InterfaceError
from django.db import OperationalError as DatabaseDown
from django.http import HttpResponse, JsonResponse
from kombu.exceptions import OperationalError as BrokerError

# Outages only: a dependency that does not answer. A DatabaseError of another kind (a missing migration, a
# constraint) or a Redis command error is a bug: a 500 with its traceback, never "try again".
UNAVAILABLE = (DatabaseDown, InterfaceError, redis.ConnectionError, redis.TimeoutError, BrokerError)
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


def unavailable_reason(exc: BaseException) -> str:
    """What was down, in a few words: the exception's class and its message's first line (no traceback)."""
    what = "database" if isinstance(exc, DatabaseError) else "Redis" if isinstance(exc, redis.RedisError) else "broker"
    detail = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{what} unavailable ({type(exc).__name__}{': ' + detail if detail else ''})"


class OneLinePerOutage(logging.Filter):
    """On the ``django.request`` logger: a request refused with 503 because a dependency is down is one line.

    During an outage every request fails the same way, and a traceback for each one buries everything else in
    the log (hundreds a minute). Django logs each uncaught exception with its traceback; for the expected ones
    (UNAVAILABLE, answered 503 by server_error) this keeps the record but makes it one WARNING line with the
    cause. Every other exception keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, UNAVAILABLE):
            request = getattr(record, "request", None)
            method = getattr(request, "method", "?")
            path = getattr(request, "path", "?")
            record.msg = "%s %s %s: %s"
            record.args = (getattr(record, "status_code", 503), method, path, unavailable_reason(exc))
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True

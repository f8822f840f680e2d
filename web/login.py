"""The site's login, throttled: failed attempts are counted per account and per client address in Redis.

Fixed windows, as Herald's send limits (herald_live/ratelimit.py): past ``HERALD_LOGIN_FAILURES_PER_ACCOUNT``
failures for one username, or ``HERALD_LOGIN_FAILURES_PER_IP`` from one address (an IPv6 client's /64), within
``HERALD_LOGIN_WINDOW_SECONDS``, every attempt gets 429 with Retry-After, the right password too, and nothing is
checked, until the window ends. A window always ends: nobody is locked out for longer. Successful logins count
for nothing, so an office behind one address is only slowed by its own mistakes.

If Redis cannot be reached the login goes on unthrottled (one warning per attempt): sessions live in the
database, and a site whose live parts are down should still let people in.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.forms import Form
from django.http import HttpRequest, HttpResponse

from herald_live.conf import app_settings

logger = logging.getLogger(__name__)


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(app_settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)


@dataclass(frozen=True)
class Limit:
    scope: str  # "account" or "ip"
    subject: str  # a digest: neither usernames nor addresses are written to Redis as they are
    limit: int


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def client_network(remote_addr: str) -> str:
    """The address a limit applies to: the IPv4 address itself, or an IPv6 client's /64 (one is handed out whole)."""
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return remote_addr or "unknown"
    if address.version == 6 and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)  # a dual-stack listener: an IPv4 client, not a shared /64
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def limits_for(*, username: str, remote_addr: str) -> list[Limit]:
    found = []
    if settings.HERALD_LOGIN_FAILURES_PER_ACCOUNT:
        # Usernames are case-insensitive here: "Alice" and "alice" share one count.
        found.append(Limit("account", _digest(username.strip().casefold()), settings.HERALD_LOGIN_FAILURES_PER_ACCOUNT))
    if settings.HERALD_LOGIN_FAILURES_PER_IP:
        found.append(Limit("ip", _digest(client_network(remote_addr)), settings.HERALD_LOGIN_FAILURES_PER_IP))
    return found


def _window(now: float) -> tuple[int, int]:
    """(this window's number, seconds until it ends)."""
    size = settings.HERALD_LOGIN_WINDOW_SECONDS
    number = int(now // size)
    return number, int((number + 1) * size - now) + 1


def _key(limit: Limit, window: int) -> str:
    return f"{app_settings.CHANNEL_PREFIX}:login-failures:{limit.scope}:{limit.subject}:{window}"


def refused(*, limits: list[Limit], now: float) -> tuple[str, int] | None:
    """(the scope that is full, seconds to wait), or None while every count is under its limit."""
    if not limits:
        return None
    window, retry_after = _window(now)
    counts = _redis().mget([_key(limit, window) for limit in limits])
    for limit, count in zip(limits, counts, strict=True):
        if count is not None and int(count) >= limit.limit:
            return limit.scope, retry_after
    return None


def record_failure(*, limits: list[Limit], now: float) -> None:
    window, _ = _window(now)
    pipe = _redis().pipeline()
    for limit in limits:
        key = _key(limit, window)
        pipe.incr(key)
        pipe.expire(key, settings.HERALD_LOGIN_WINDOW_SECONDS + 1)
    pipe.execute()


MESSAGES = {
    "account": "Too many failed logins for this account. Wait {seconds} seconds, then try again.",
    "ip": "Too many failed logins from your network. Wait {seconds} seconds, then try again.",
}


class ThrottledLoginView(auth_views.LoginView):
    """Django's LoginView, refused (429) while the account or the address is over its failure limit."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.limits = limits_for(
            username=request.POST.get("username", ""), remote_addr=request.META.get("REMOTE_ADDR", "")
        )
        try:
            blocked = refused(limits=self.limits, now=time.time())
        except redis.RedisError as exc:
            logger.warning("login throttle unavailable, attempt not limited: %s", type(exc).__name__)
            self.limits = []
            blocked = None
        if blocked is not None:
            scope, retry_after = blocked
            # Logged by digest and scope only: no username, no address.
            logger.warning("login refused: too many failures scope=%s retry_after=%s", scope, retry_after)
            # An unbound form: a bound one would check the password as soon as the page shows its errors.
            form = self.get_form_class()(request, initial={"username": request.POST.get("username", "")})
            response = self.render_to_response(
                self.get_context_data(form=form, throttled=MESSAGES[scope].format(seconds=retry_after)), status=429
            )
            response["Retry-After"] = str(retry_after)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Form) -> HttpResponse:
        # Only a wrong password (or an inactive account) counts: an empty field checked nothing.
        if form.has_error("__all__", "invalid_login") or form.has_error("__all__", "inactive"):
            try:
                record_failure(limits=self.limits, now=time.time())
            except redis.RedisError as exc:
                logger.warning("login throttle unavailable, failure not counted: %s", type(exc).__name__)
        return super().form_invalid(form)

"""The site's login, throttled: failed attempts are counted in Redis per account and network, per network, and
per account.

Fixed windows of ``HERALD_LOGIN_WINDOW_SECONDS``, counted by Herald's own rate-limit module
(herald_live/infra/ratelimit.py), as its send limits are:

- past ``HERALD_LOGIN_FAILURES_PER_ACCOUNT`` failures for one username from one network (an IPv4 address, an
  IPv6 client's /64), that username is refused from that network: someone guessing a known username from
  elsewhere cannot lock its owner out;
- past ``HERALD_LOGIN_FAILURES_PER_IP`` failures from one network, whatever the usernames, it is refused;
- past ``HERALD_LOGIN_FAILURES_PER_ACCOUNT_TOTAL`` failures for one username from every network together (a
  guess spread over many addresses), that username is refused from networks it has not logged in from within
  ``HERALD_LOGIN_KNOWN_NETWORK_DAYS``; its owner, at home or at the office, still gets in.

A refused attempt gets 429 with Retry-After, the right password too, and nothing is checked, until the window
ends: nobody is locked out for longer. An attempt is counted before its password is checked, so that requests
sent at once cannot all pass a count read before any of them failed; a successful login (or an empty form)
gives its count back, so an office behind one address is only slowed by its own mistakes.

If Redis cannot be reached the login goes on unthrottled (one warning per attempt): sessions live in the
database, and a site whose live parts are down should still let people in.
"""

from __future__ import annotations

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
from herald_live.infra import ratelimit

logger = logging.getLogger(__name__)
# The counters' kind in their Redis keys (ratelimit.key), and the set of networks each account logged in from.
FAILURES = "login-failures"


@dataclass(frozen=True)
class Limit:
    scope: str  # "account" (from this network), "ip" (this network), "account-total" (from every network)
    subject: str  # digests: neither usernames nor addresses are written to Redis as they are
    limit: int


@dataclass(frozen=True)
class Attempt:
    """Who tries to log in, as digests, and the limits that apply to them."""

    account: str
    network: str
    limits: tuple[Limit, ...]


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


def attempt_of(*, username: str, remote_addr: str) -> Attempt:
    # Usernames are case-insensitive here: "Alice" and "alice" share their counts.
    account, network = _digest(username.strip().casefold()), _digest(client_network(remote_addr))
    limits = []
    if settings.HERALD_LOGIN_FAILURES_PER_ACCOUNT:
        limits.append(Limit("account", f"{account}:{network}", settings.HERALD_LOGIN_FAILURES_PER_ACCOUNT))
    if settings.HERALD_LOGIN_FAILURES_PER_IP:
        limits.append(Limit("ip", network, settings.HERALD_LOGIN_FAILURES_PER_IP))
    if settings.HERALD_LOGIN_FAILURES_PER_ACCOUNT_TOTAL:
        limits.append(Limit("account-total", account, settings.HERALD_LOGIN_FAILURES_PER_ACCOUNT_TOTAL))
    return Attempt(account=account, network=network, limits=tuple(limits))


def _known_key(account: str) -> str:
    return f"{app_settings.CHANNEL_PREFIX}:login-networks:{account}"


def reserve(*, attempt: Attempt, now: float) -> tuple[list[str], tuple[str, int] | None]:
    """Counts the attempt in every window it belongs to, then compares.

    Returns (the keys counted, to give back with ``release``; (the scope that is full, seconds to wait), or
    None while every count is within its limit).
    """
    if not attempt.limits:
        return [], None
    window_seconds = settings.HERALD_LOGIN_WINDOW_SECONDS
    window = ratelimit.window(now=now, seconds=window_seconds)
    keys = [
        ratelimit.key(kind=FAILURES, scope=limit.scope, subject=limit.subject, window=window.number)
        for limit in attempt.limits
    ]
    counts = ratelimit.count(keys=keys, window_seconds=window_seconds)
    for limit, count in zip(attempt.limits, counts, strict=True):
        if count > limit.limit and not (limit.scope == "account-total" and _known(attempt)):
            return keys, (limit.scope, window.retry_after)
    return keys, None


def _known(attempt: Attempt) -> bool:
    """Whether the account logged in from this network before (asked only once its total is past its limit)."""
    return bool(ratelimit.client().sismember(_known_key(attempt.account), attempt.network))


def release(*, keys: list[str]) -> None:
    """Gives back an attempt that checked no password, or the right one: only failures count."""
    ratelimit.give_back(keys=keys, window_seconds=settings.HERALD_LOGIN_WINDOW_SECONDS)


def remember_network(*, attempt: Attempt) -> None:
    """The account logged in from this network: a guess spread over other networks no longer refuses it here."""
    key = _known_key(attempt.account)
    pipe = ratelimit.client().pipeline()
    pipe.sadd(key, attempt.network)
    pipe.expire(key, settings.HERALD_LOGIN_KNOWN_NETWORK_DAYS * 24 * 3600)
    pipe.execute()


MESSAGES = {
    "account": "Too many failed logins for this account from your network. Wait {seconds} seconds, then try again.",
    "ip": "Too many failed logins from your network. Wait {seconds} seconds, then try again.",
    "account-total": "Too many failed logins for this account. Wait {seconds} seconds, then try again.",
}


class ThrottledLoginView(auth_views.LoginView):
    """Django's LoginView, refused (429) while the attempt is over one of its failure limits."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.attempt = attempt_of(
            username=request.POST.get("username", ""), remote_addr=request.META.get("REMOTE_ADDR", "")
        )
        self.counted: list[str] | None = None  # None: Redis did not answer, the attempt goes on unthrottled
        try:
            self.counted, blocked = reserve(attempt=self.attempt, now=time.time())
        except redis.RedisError as exc:
            logger.warning("login throttle unavailable, attempt not limited: %s", type(exc).__name__)
            blocked = None
        if blocked is not None:
            # It checked nothing: counted, it would add to the account's total from one network's refusals.
            self._throttle(release, keys=self.counted)
            scope, retry_after = blocked
            # Logged by scope only: no username, no address.
            logger.warning("login refused: too many failures scope=%s retry_after=%s", scope, retry_after)
            # An unbound form: a bound one would check the password as soon as the page shows its errors.
            form = self.get_form_class()(request, initial={"username": request.POST.get("username", "")})
            response = self.render_to_response(
                self.get_context_data(form=form, throttled=MESSAGES[scope].format(seconds=retry_after)), status=429
            )
            response["Retry-After"] = str(retry_after)
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: Form) -> HttpResponse:
        self._throttle(release, keys=self.counted)
        self._throttle(remember_network, attempt=self.attempt)
        return super().form_valid(form)

    def form_invalid(self, form: Form) -> HttpResponse:
        # Only a wrong password (or an inactive account) counts: an empty field checked nothing.
        if not (form.has_error("__all__", "invalid_login") or form.has_error("__all__", "inactive")):
            self._throttle(release, keys=self.counted)
        return super().form_invalid(form)

    def _throttle(self, action, **kwargs) -> None:
        if self.counted is None:
            return  # Redis did not answer this attempt's count: one warning was enough
        try:
            action(**kwargs)
        except redis.RedisError as exc:
            logger.warning("login throttle unavailable, count not updated: %s", type(exc).__name__)

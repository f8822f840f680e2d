"""The client's real IP behind reverse proxies, trusting X-Forwarded-For only from known proxies."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from herald_live.forwarded import Network, client_ip

__all__ = ["Network", "TrustedProxyMiddleware", "client_ip", "parse_networks"]


def parse_networks(values: list[str]) -> list[Network]:
    try:
        return [ipaddress.ip_network(value, strict=False) for value in values]
    except ValueError as exc:
        raise ImproperlyConfigured(f"HERALD_TRUSTED_PROXIES: {exc}") from None


class TrustedProxyMiddleware:
    """Sets REMOTE_ADDR before django-user-sessions records it."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.trusted = parse_networks(settings.HERALD_TRUSTED_PROXIES)

    def __call__(self, request):
        if self.trusted:
            request.META["REMOTE_ADDR"] = client_ip(
                remote_addr=request.META.get("REMOTE_ADDR", ""),
                forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR", ""),
                trusted=self.trusted,
            )
        return self.get_response(request)

"""The client's real IP behind reverse proxies, trusting X-Forwarded-For only from known proxies."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: list[str]) -> list[Network]:
    try:
        return [ipaddress.ip_network(value, strict=False) for value in values]
    except ValueError as exc:
        raise ImproperlyConfigured(f"HERALD_TRUSTED_PROXIES: {exc}") from None


def client_ip(*, remote_addr: str, forwarded_for: str, trusted: list[Network]) -> str:
    """Walks X-Forwarded-For from the right while each hop is a trusted proxy.

    Anything left of the first untrusted hop could have been written by the client.
    """

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    if not forwarded_for or not is_trusted(remote_addr):
        return remote_addr
    client = remote_addr
    for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # a garbled entry: stop at the last address we could vouch for
        client = hop
        if not is_trusted(hop):
            break
    return client


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

"""The client's address behind reverse proxies: X-Forwarded-For, believed only as far as trusted proxies wrote it.

Stdlib only: the web (web/proxies.py, for sessions and login limits) and the pusher (its per-address cap of
transports not yet authenticated) decide it the same way, here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_ip(*, remote_addr: str, forwarded_for: str, trusted: Iterable[Network]) -> str:
    """Walks X-Forwarded-For from the right while each hop is a trusted proxy.

    Anything left of the first untrusted hop could have been written by the client. Behind a load balancer
    and nginx, both trusted, that is the client, not the balancer every client comes through.
    """
    trusted = tuple(trusted)

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

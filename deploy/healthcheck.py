"""Container healthcheck: ``python deploy/healthcheck.py URL`` exits 0 if URL answers 200, 1 otherwise.

Stdlib only. Django answers 400 to a Host outside HERALD_ALLOWED_HOSTS, and those are the site's public names,
not 127.0.0.1: the request names the first allowed host instead, while it still goes to the given address.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def host_header(allowed_hosts: str) -> str:
    for entry in allowed_hosts.split(","):
        host = entry.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def check(url: str, *, timeout: float = 5.0) -> bool:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = host_header(os.environ.get("HERALD_ALLOWED_HOSTS", ""))
    request = urllib.request.Request(url, headers={"Host": host})  # noqa: S310 - http(s) only, checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status == 200
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return False


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: healthcheck.py URL")
    sys.exit(0 if check(sys.argv[1]) else 1)

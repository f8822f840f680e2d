"""The pusher's settings, read once from the environment. Never imports Django."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from herald_live import wire
from herald_live.envvars import ConfigError, env_choice, env_int, env_list, env_secret, env_str

ASYNC_MODES = ("eventlet", "gevent")
# How long a session with a socket here counts as present for web push once this pusher stops renewing it.
DEFAULT_PRESENCE_SECONDS = 90
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class PusherConfig:
    host: str
    port: int
    redis_url: str
    channel_prefix: str
    token_secrets: list[str]  # the current signing secret first, then ones being rotated out
    token_ttl_seconds: int  # as the web signs them: how long a token of an ended session must be refused
    allowed_origins: list[str]
    max_connections: int
    gc_thresholds: tuple[int, int, int]
    gc_freeze_seconds: int  # 0: only the start-up heap is frozen
    gc_reclaim_seconds: int  # 0: never (connections leave no cycles under eventlet: pinger.py, wsgi_servers.py)
    auth_timeout_seconds: int  # a transport that has not authenticated by then is closed
    max_pending_per_address: int  # transports not authenticated yet, per client address
    trusted_proxies: tuple[IPNetwork, ...]  # peers whose X-Forwarded-For names the client (the site's proxy)
    metrics_host: str
    metrics_port: int  # 0: no metrics listener
    presence_seconds: int  # lifetime of this pusher's presence entries; renewed every third of it (presence.py)


def async_mode() -> str:
    """Read on its own: it must be known before anything else is imported (monkey-patching)."""
    return env_choice("HERALD_PUSHER_ASYNC_MODE", "eventlet", ASYNC_MODES)


def load() -> PusherConfig:
    port = env_int("HERALD_PUSHER_PORT", 8001, minimum=1, maximum=65535)
    return PusherConfig(
        host=env_str("HERALD_PUSHER_HOST", "127.0.0.1"),
        port=port,
        redis_url=env_str("REDIS_URL", "redis://127.0.0.1:6379/0"),
        channel_prefix=env_str("HERALD_CHANNEL_PREFIX", "herald"),
        token_secrets=[env_secret("HERALD_TOKEN_SECRET"), *env_list("HERALD_TOKEN_SECRETS_OLD", [])],
        token_ttl_seconds=env_int(
            "HERALD_TOKEN_TTL_SECONDS",
            wire.DEFAULT_TOKEN_TTL_SECONDS,
            minimum=wire.TOKEN_TTL_BOUNDS[0],
            maximum=wire.TOKEN_TTL_BOUNDS[1],
        ),
        allowed_origins=env_list("HERALD_ALLOWED_ORIGINS", ["http://localhost:8000", "http://127.0.0.1:8000"]),
        max_connections=env_int("HERALD_PUSHER_MAX_CONNECTIONS", 10_000, minimum=1),
        gc_thresholds=_gc_thresholds(env_list("HERALD_PUSHER_GC_THRESHOLDS", [])),
        gc_freeze_seconds=env_int("HERALD_PUSHER_GC_FREEZE_SECONDS", 1, minimum=0, maximum=3600),
        # A reclaim is a full collection of every live object: 0.4-1.1 s at 4,000 sockets. Under eventlet a
        # closed connection leaves no garbage cycle to reclaim; under gevent (simple-websocket) it leaves some.
        gc_reclaim_seconds=_reclaim_seconds(env_int("HERALD_PUSHER_GC_RECLAIM_SECONDS", -1, minimum=-1)),
        auth_timeout_seconds=env_int("HERALD_PUSHER_AUTH_TIMEOUT_SECONDS", 5, minimum=1, maximum=60),
        max_pending_per_address=env_int("HERALD_PUSHER_MAX_PENDING_PER_ADDRESS", 20, minimum=1),
        trusted_proxies=_networks(
            "HERALD_PUSHER_TRUSTED_PROXIES", env_list("HERALD_PUSHER_TRUSTED_PROXIES", ["127.0.0.1", "::1"])
        ),
        # Metrics never share the public port: a listener of their own, on localhost unless told otherwise.
        metrics_host=env_str("HERALD_PUSHER_METRICS_HOST", "127.0.0.1"),
        # By default the pusher's port + 1000 (8001 -> 9001), so that several pushers on one host never clash.
        metrics_port=env_int(
            "HERALD_PUSHER_METRICS_PORT", port + 1000 if port <= 64535 else 0, minimum=0, maximum=65535
        ),
        presence_seconds=env_int("HERALD_PUSHER_PRESENCE_SECONDS", DEFAULT_PRESENCE_SECONDS, minimum=3, maximum=3600),
    )


def _reclaim_seconds(value: int) -> int:
    if value == -1:  # not set
        return 0 if async_mode() == "eventlet" else 900
    if 0 < value < 10:
        raise ConfigError(f"HERALD_PUSHER_GC_RECLAIM_SECONDS must be 0 (never) or at least 10, got {value}")
    return value


def _networks(name: str, values: list[str]) -> tuple[IPNetwork, ...]:
    """Addresses or networks (``10.0.0.0/8``); ``none``: no proxy is trusted."""
    if values == ["none"]:
        return ()
    try:
        return tuple(ipaddress.ip_network(value, strict=False) for value in values)
    except ValueError as exc:
        raise ConfigError(f"{name} must be addresses or networks (e.g. 127.0.0.1,10.0.0.0/8), got {exc}") from None


# Python's first two thresholds, and no automatic full collection: the pusher freezes survivors every second
# (gc_tuning.py), so a full collection only ever found the last second's objects, and during a burst of
# connections that walk took 0.1-0.25 s (bench.churn, docs/benchmark.md); young collections stay under 10 ms.
DEFAULT_GC_THRESHOLDS = (700, 10, 1_000_000)


def _gc_thresholds(values: list[str]) -> tuple[int, int, int]:
    """``HERALD_PUSHER_GC_THRESHOLDS=50000,20,100``: gc.set_threshold's three numbers; empty: DEFAULT_GC_THRESHOLDS."""
    if not values:
        return DEFAULT_GC_THRESHOLDS
    try:
        numbers = tuple(int(value) for value in values)
    except ValueError:
        numbers = ()
    if len(numbers) != 3 or min(numbers) < 1:
        raise ConfigError(f"HERALD_PUSHER_GC_THRESHOLDS must be three positive integers, got {','.join(values)!r}")
    return numbers

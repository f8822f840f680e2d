"""The pusher's settings, read once from the environment. Never imports Django."""

from __future__ import annotations

from dataclasses import dataclass

from herald_live import wire
from herald_live.envvars import ConfigError, env_choice, env_int, env_list, env_secret, env_str

ASYNC_MODES = ("eventlet", "gevent")


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
    gc_thresholds: tuple[int, int, int] | None
    gc_freeze_seconds: int  # 0: only the start-up heap is frozen
    gc_reclaim_seconds: int


def async_mode() -> str:
    """Read on its own: it must be known before anything else is imported (monkey-patching)."""
    return env_choice("HERALD_PUSHER_ASYNC_MODE", "eventlet", ASYNC_MODES)


def load() -> PusherConfig:
    return PusherConfig(
        host=env_str("HERALD_PUSHER_HOST", "127.0.0.1"),
        port=env_int("HERALD_PUSHER_PORT", 8001, minimum=1, maximum=65535),
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
        gc_reclaim_seconds=env_int("HERALD_PUSHER_GC_RECLAIM_SECONDS", 900, minimum=10),
    )


def _gc_thresholds(values: list[str]) -> tuple[int, int, int] | None:
    """``HERALD_PUSHER_GC_THRESHOLDS=50000,20,100``: gc.set_threshold's three numbers; empty: Python's."""
    if not values:
        return None
    try:
        numbers = tuple(int(value) for value in values)
    except ValueError:
        numbers = ()
    if len(numbers) != 3 or min(numbers) < 1:
        raise ConfigError(f"HERALD_PUSHER_GC_THRESHOLDS must be three positive integers, got {','.join(values)!r}")
    return numbers

"""Prometheus metrics of the web, on a listener of their own: never on the site's port.

``HERALD_METRICS_HOST`` (default ``127.0.0.1``) and ``HERALD_METRICS_PORT`` (default 9101; ``0`` or empty turns
it off) place it; the workers' listener follows the same convention (``HERALD_WORKER_METRICS_*``, 9102 in the
deployment files). These two are read here rather than in web/settings.py because gunicorn's master process
starts the listener (web/gunicorn.conf.py) and must not import the site's settings: its workers would then
inherit them, and ``systemctl reload`` (HUP) would no longer pick up a changed setting.

Who starts it, once per process tree:

- gunicorn (production): its master, from web/gunicorn.conf.py, in prometheus-client's multiprocess mode: every
  worker writes its counters under ``PROMETHEUS_MULTIPROC_DIR`` (the config makes a private one when it is not
  set) and the master's listener adds them up.
- ``manage.py runserver`` (``make run``): web/wsgi.py, in the one serving process, from its own registry.
"""

from __future__ import annotations

import os
import threading

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess, start_http_server

from herald_live.envvars import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9101

_lock = threading.Lock()
# Set in gunicorn's master before it forks, so its workers see them too.
_claimed = False  # a process of this tree took charge of the listener (even if binding failed)
_listening: tuple[str, int] | None = None


def listener_address() -> tuple[str, int]:
    """(host, port) of the metrics listener; port 0 means none. Unset port: 9101; empty or ``0``: off."""
    host = os.environ.get("HERALD_METRICS_HOST", "").strip() or DEFAULT_HOST
    raw = os.environ.get("HERALD_METRICS_PORT")
    if raw is None:
        return host, DEFAULT_PORT
    raw = raw.strip()
    if raw == "":
        return host, 0
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"HERALD_METRICS_PORT must be a port number (0 or empty: off), got {raw!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"HERALD_METRICS_PORT must be between 0 and 65535, got {port}")
    return host, port


def registry() -> CollectorRegistry:
    """Every process's counters in multiprocess mode (gunicorn), else this process's own."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)
        return collected
    return REGISTRY


def exposition() -> bytes:
    """The text a scrape of the listener gets (tests read it without a listener)."""
    return generate_latest(registry())


def listening() -> tuple[str, int] | None:
    """Where this process tree's listener is, if one was started."""
    return _listening


def claimed() -> bool:
    """Whether a process of this tree (gunicorn's master, or this one) already took charge of the listener."""
    return _claimed


def serve(*, host: str, port: int) -> bool:
    """Starts the listener unless this process tree has one (or ``port`` is 0); True if this call started it.

    Raises OSError if the address cannot be bound: the caller logs it in its own log, and the site keeps
    serving (Prometheus then reports the target down).
    """
    global _claimed, _listening
    with _lock:
        if _claimed or not port:
            return False
        _claimed = True
        start_http_server(port, addr=host, registry=registry())
        _listening = (host, port)
        return True

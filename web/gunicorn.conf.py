"""gunicorn's configuration for the web: ``gunicorn -c web/gunicorn.conf.py web.wsgi:application ...``.

It runs in gunicorn's master process. Its one job is the metrics listener (web/metrics.py): started once, in the
master, on HERALD_METRICS_HOST:HERALD_METRICS_PORT (127.0.0.1:9101 by default), never on the site's port; the
workers write their counters under PROMETHEUS_MULTIPROC_DIR, which the master's listener adds up. Everything
else (bind, workers, timeouts) stays on the command line and in gunicorn's own environment (WEB_CONCURRENCY).
"""

import os
import tempfile
from pathlib import Path

# Before anything imports prometheus_client in this process tree: the workers (forked from here) choose
# multiprocess mode when they create their first metric, from this variable. A private directory when the
# deployment names none. Set once: HUP re-reads this file, and the workers must keep writing where they were.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="herald-web-metrics-")

# gunicorn's runtime control socket ($HOME/.gunicorn/gunicorn.ctl) is not used: systemd's ProtectSystem/ProtectHome
# make that path read-only, and two gunicorns of one user would share it.
control_socket_disable = True


def on_starting(server):
    """Once per start (not on HUP): counters from a previous run would otherwise be added to this one's."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob("*.db"):
        leftover.unlink()


def when_ready(server):
    from web import metrics

    host, port = metrics.listener_address()
    if not port:
        server.log.info("metrics: off (HERALD_METRICS_PORT is 0 or empty)")
        return
    try:
        if metrics.serve(host=host, port=port):
            server.log.info("metrics on http://%s:%s/metrics", host, port)
    except OSError as exc:
        # The site serves on; Prometheus reports the target down.
        server.log.error("metrics: cannot listen on %s:%s (%s); the site runs without them", host, port, exc)


def child_exit(server, worker):
    """A worker that is gone: prometheus-client's multiprocess mode forgets its live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)

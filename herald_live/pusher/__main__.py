"""Entry point: ``herald-pusher``. Monkey-patches before any other import, as the async mode needs."""

import os
import sys

from herald_live.envvars import ConfigError
from herald_live.pusher import config as pusher_config

# One process serves its own /metrics: prometheus-client's multiprocess mode (set for web and
# workers in a shared env file) would only make it write to a directory nobody created.
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

# The settings first, stdlib only: a bad one is one line naming the variable, and the exit status of a usage
# error, before eventlet or gevent is even imported (nothing started, no traceback to read through).
try:
    MODE = pusher_config.async_mode()
    CONFIG = pusher_config.load()
except ConfigError as exc:
    sys.stderr.write(f"herald-pusher: {exc} (pusher/README.md lists every variable)\n")
    raise SystemExit(2) from None

if MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()
else:
    # gevent keeps every greenlet's spawning stack (ten frames) by default: memory per socket, for debugging.
    os.environ.setdefault("GEVENT_TRACK_GREENLET_TREE", "false")
    from gevent import monkey

    monkey.patch_all()

import logging  # noqa: E402
import signal  # noqa: E402

import prometheus_client  # noqa: E402

from herald_live.pusher import gc_tuning  # noqa: E402
from herald_live.pusher.app import create_app, drain, subscribe_now  # noqa: E402
from herald_live.pusher.wsgi_servers import server_options  # noqa: E402

logger = logging.getLogger("herald.pusher")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = CONFIG
    app, socketio = create_app(config, async_mode=MODE)

    def drain_and_exit() -> None:
        count = drain(socketio, present=app.extensions["herald_presence"])
        logger.info("pusher drained sockets=%s; exiting", count)
        socketio.sleep(0.2)  # let the close frames leave
        os._exit(0)

    # SIGTERM (docker stop, systemctl stop, scale-down): close every socket at once so that
    # clients reconnect to another pusher, rather than waiting for their pings to time out.
    signal.signal(signal.SIGTERM, lambda signum, frame: socketio.start_background_task(drain_and_exit))
    subscribe_now(socketio)
    gc_tuning.tune(thresholds=config.gc_thresholds)
    if config.gc_freeze_seconds:
        socketio.start_background_task(
            gc_tuning.maintain,
            freeze_every=config.gc_freeze_seconds,
            reclaim_every=config.gc_reclaim_seconds,
            sleep=socketio.sleep,
        )
    if config.metrics_port:
        try:
            prometheus_client.start_http_server(config.metrics_port, addr=config.metrics_host)
            logger.info("pusher metrics host=%s port=%s", config.metrics_host, config.metrics_port)
        except OSError as exc:
            # Delivery matters more than its metrics: say so, and serve sockets anyway.
            logger.error(
                "pusher metrics not served host=%s port=%s: %s (set HERALD_PUSHER_METRICS_PORT)",
                config.metrics_host,
                config.metrics_port,
                exc.strerror or exc,
            )
    logger.info("pusher listening host=%s port=%s async_mode=%s", config.host, config.port, MODE)
    extra = {"max_size": config.max_connections} if MODE == "eventlet" else {}
    socketio.run(app, host=config.host, port=config.port, log_output=False, **extra, **server_options(MODE))


if __name__ == "__main__":
    main()

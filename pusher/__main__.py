"""Entry point: ``python -m pusher``. Monkey-patches before any other import, as the async mode needs."""

from pusher.config import async_mode

MODE = async_mode()
if MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()
else:
    from gevent import monkey

    monkey.patch_all()

import logging  # noqa: E402

from pusher import config as pusher_config  # noqa: E402
from pusher.app import create_app  # noqa: E402


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = pusher_config.load()
    app, socketio = create_app(config, async_mode=MODE)
    logging.getLogger("herald.pusher").info(
        "pusher listening host=%s port=%s async_mode=%s", config.host, config.port, MODE
    )
    extra = {"max_size": config.max_connections} if MODE == "eventlet" else {}
    socketio.run(app, host=config.host, port=config.port, log_output=False, **extra)


if __name__ == "__main__":
    main()

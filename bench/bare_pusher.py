"""The library floor: a bare Flask-SocketIO server on the same Redis channel, without Herald's code.

No token check: a socket joins the room named by its ``room`` query argument. Same async mode,
same message queue, same connection limit as Herald's pusher. ``python -m bench.bare_pusher``.
"""

import os

MODE = os.environ["BENCH_ASYNC_MODE"]
if MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()
else:
    from gevent import monkey

    monkey.patch_all()

from flask import Flask, request  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402

from bench import gclog  # noqa: E402

app = Flask(__name__)
socketio = SocketIO(
    app,
    async_mode=MODE,
    message_queue=os.environ["REDIS_URL"],
    channel=f"{os.environ['HERALD_CHANNEL_PREFIX']}.socketio",
    cors_allowed_origins="*",
)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@socketio.on("connect")
def connect(auth=None):
    join_room(request.args["room"])


if __name__ == "__main__":
    gclog.install()  # slow collections to the log, as bench.gc_pusher does for Herald's pusher
    extra = {"max_size": int(os.environ.get("HERALD_PUSHER_MAX_CONNECTIONS", "10000"))} if MODE == "eventlet" else {}
    socketio.run(app, host="127.0.0.1", port=int(os.environ["HERALD_PUSHER_PORT"]), log_output=False, **extra)

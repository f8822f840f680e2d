"""What misbehaving clients cost a pusher: open descriptors and RSS after N refused and N silent transports.

``python -m bench.abuse [--count 3000]`` starts one pusher (eventlet), opens ``count`` raw Engine.IO
websockets that send a bad token and ``count`` that never send anything, keeps them open on the
client side, and reads the pusher's descriptors and RSS from /proc before, right after, and once its
auth timeout has passed. The per-address cap is raised for the run so that every transport gets in.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import websocket

from bench import common
from bench.churn import rss_mb
from tests.support import processes


def reading(pid: int) -> dict:
    return {"fds": len(os.listdir(f"/proc/{pid}/fd")), "rss_mb": rss_mb(pid)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--auth-timeout", type=int, default=5)
    parser.add_argument("--async-mode", choices=["eventlet", "gevent"], default="eventlet")
    args = parser.parse_args()
    common.raise_nofile_limit()
    env = common.new_run_env(f"abuse-{int(time.time())}")
    common.check_env_is_safe(env)
    port = processes.free_port()
    origin = "http://127.0.0.1:8000"
    env.update(
        HERALD_ALLOWED_ORIGINS=origin,
        HERALD_PUSHER_AUTH_TIMEOUT_SECONDS=str(args.auth_timeout),
        HERALD_PUSHER_MAX_PENDING_PER_ADDRESS=str(args.count * 3),
    )
    pusher = processes.pusher(env, port=port, async_mode=args.async_mode, name="abuse-pusher").start()
    url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    clients: list[websocket.WebSocket] = []
    try:
        pusher.wait_for_http(f"http://127.0.0.1:{port}/healthz")
        pid = pusher.process.pid
        before = reading(pid)
        started = time.monotonic()
        for n in range(2 * args.count):
            ws = websocket.create_connection(url, origin=origin, timeout=10)
            ws.recv()  # the open packet
            if n % 2 == 0:
                ws.send("40" + json.dumps({"token": "not-a-token"}))
            clients.append(ws)
        opened_in = time.monotonic() - started
        right_after = reading(pid)
        time.sleep(args.auth_timeout + 3)
        later = reading(pid)
        print(
            json.dumps(
                {
                    "refused": args.count,
                    "silent": args.count,
                    "opened_in_s": round(opened_in, 1),
                    "before": before,
                    "right_after": right_after,
                    f"after_{args.auth_timeout + 3}s": later,
                },
                indent=2,
            )
        )
    finally:
        for ws in clients:
            ws.close()
        pusher.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

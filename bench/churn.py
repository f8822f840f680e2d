"""Pusher memory under churn: RSS while N sockets are live and after they close, round after round.

``python -m bench.churn [--sockets 2000] [--rounds 20] [--async-mode eventlet|gevent] [--servers herald,bare]``

Each round opens N authenticated Socket.IO websockets (raw Engine.IO frames from a thread pool, light enough
to leave the machine to the server), reads the server's RSS, closes them all, waits for the server to let
go, and reads RSS again. Herald's pusher is compared with the bare Flask-SocketIO server (bench/bare_pusher.py)
in the same run: RSS per live socket, and RSS after each round against its level after the first. Pauses of
Herald's garbage collector come from its metrics (``herald_pusher_gc_pause_seconds``). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import quote

import requests
import websocket

from bench import common
from herald_live import wire
from tests.support import processes

ORIGIN = "http://bench.invalid"


def rss_mb(pid: int) -> float:
    return round(common.memory_kb(pid)["rss_kb"] / 1024, 1)


def open_socket(url: str, token: str | None) -> websocket.WebSocket:
    ws = websocket.create_connection(url, origin=ORIGIN, timeout=30)
    ws.recv()  # Engine.IO open
    ws.send("40" + (json.dumps({"token": token}) if token else ""))
    answer = ws.recv()
    if not answer.startswith("40"):
        raise RuntimeError(f"refused: {answer[:80]}")
    return ws


def histogram(metrics_url: str, name: str) -> dict[str, dict[float, float]]:
    """Cumulative bucket counts of a histogram, per generation label ("" without one)."""
    text = requests.get(metrics_url, timeout=10).text
    counts: dict[str, dict[float, float]] = {}
    for line in text.splitlines():
        if line.startswith(f"{name}_bucket"):
            labels, value = line.split("} ")
            generation = labels.split('generation="')[1].split('"')[0] if "generation=" in labels else ""
            bound = labels.split('le="')[1].split('"')[0]
            counts.setdefault(generation, {})[float("inf") if bound == "+Inf" else float(bound)] = float(value)
    return counts


def longest(before: dict[str, dict[float, float]], after: dict[str, dict[float, float]]) -> dict[str, float]:
    """Per label, the smallest bucket bound that holds every pause observed between the two readings."""
    worst = {}
    for label, buckets in after.items():
        old = before.get(label, {})
        delta = {bound: count - old.get(bound, 0) for bound, count in buckets.items()}
        total = delta[float("inf")]
        if total:
            worst[label or "all"] = next(bound for bound in sorted(delta) if delta[bound] >= total)
    return worst


def run_server(kind: str, *, mode: str, sockets: int, rounds: int, settle: float, env: dict) -> dict:
    port = processes.free_port()
    module = "herald_live.pusher" if kind == "herald" else "bench.bare_pusher"
    server_env = {**env, "HERALD_PUSHER_ASYNC_MODE": mode, "BENCH_ASYNC_MODE": mode}
    service = processes.pusher(server_env, port=port, async_mode=mode, name=f"churn-{kind}")
    service.args = [common.PY, "-m", module]
    service.start()
    base_url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    result: dict = {"server": kind, "async_mode": mode, "sockets": sockets, "rounds": []}
    try:
        service.wait_for_http(f"http://127.0.0.1:{port}/healthz")
        time.sleep(1)
        result["rss_idle_mb"] = rss_mb(service.process.pid)
        if kind == "herald":  # pauses of the run only: the start-up collection is not one a socket waits for
            gc_before = histogram(service.metrics_url, "herald_pusher_gc_pause_seconds")
            trim_before = histogram(service.metrics_url, "herald_pusher_malloc_trim_seconds")
        with ThreadPoolExecutor(max_workers=16) as pool:
            for number in range(rounds):
                rooms = [wire.session_room(wire.session_digest(secrets.token_hex(16))) for _ in range(sockets)]
                if kind == "herald":
                    secret = env["HERALD_TOKEN_SECRET"]
                    jobs = [
                        (base_url, wire.sign_token(secret=secret, session=room.split(":", 1)[1], user_id=1))
                        for room in rooms
                    ]
                else:
                    jobs = [(f"{base_url}&room={quote(room)}", None) for room in rooms]
                started = time.monotonic()
                opened = list(pool.map(lambda job: open_socket(*job), jobs))
                connect_s = time.monotonic() - started
                live = rss_mb(service.process.pid)
                list(pool.map(lambda ws: ws.close(), opened))
                time.sleep(settle)  # closes are processed; freezes and a trim (every 10 s) run
                result["rounds"].append(
                    {
                        "round": number + 1,
                        "rss_live_mb": live,
                        "rss_after_mb": rss_mb(service.process.pid),
                        "connect_s": round(connect_s, 2),
                    }
                )
        first = result["rounds"][0]
        result["rss_per_live_socket_kb"] = round((first["rss_live_mb"] - result["rss_idle_mb"]) * 1024 / sockets, 1)
        result["rss_after_first_round_mb"] = first["rss_after_mb"]
        result["rss_after_last_round_mb"] = result["rounds"][-1]["rss_after_mb"]
        result["last_vs_first_round"] = round(result["rss_after_last_round_mb"] / first["rss_after_mb"], 2)
        if kind == "herald":
            result["gc_pause_max_s_at_most"] = longest(
                gc_before, histogram(service.metrics_url, "herald_pusher_gc_pause_seconds")
            )
            result["trim_pause_max_s_at_most"] = longest(
                trim_before, histogram(service.metrics_url, "herald_pusher_malloc_trim_seconds")
            )
    finally:
        service.stop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--settle", type=float, default=11, help="seconds after each round's closes")
    parser.add_argument("--async-mode", choices=["eventlet", "gevent"], default="eventlet")
    parser.add_argument("--servers", default="herald,bare")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="for the servers")
    args = parser.parse_args()
    common.raise_nofile_limit()
    env = common.new_run_env(f"churn-{int(time.time())}")
    common.check_env_is_safe(env)
    env["HERALD_ALLOWED_ORIGINS"] = ORIGIN
    env["HERALD_PUSHER_MAX_PENDING_PER_ADDRESS"] = str(args.sockets * 2)
    env.update(item.split("=", 1) for item in args.env)
    os.environ.setdefault("PYTHONPATH", str(common.ROOT))
    results = [
        run_server(kind, mode=args.async_mode, sockets=args.sockets, rounds=args.rounds, settle=args.settle, env=env)
        for kind in args.servers.split(",")
    ]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = common.ROOT / "bench" / "results" / f"{stamp}-churn.json"
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=1) + "\n")
    print(json.dumps(results, indent=1))
    print(f"written to {out.relative_to(common.ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

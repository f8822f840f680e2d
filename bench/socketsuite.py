"""Section 4: delivery at scale, Herald's pusher against a bare Flask-SocketIO server and a node socket.io peer.

``python -m bench.socketsuite --out FILE [--quick] [--profile]``, started by ``bench.run`` with the
run's environment. No database: sockets authenticate with tokens signed here, rooms come from made-up
session keys, and events are published with ``herald_live.infra.publisher.emit_to_rooms`` (the workers' path);
the node peer's events with ``@socket.io/redis-emitter`` (bench/node_peer/emit.js), the same events to the
same rooms at the same pace.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import queue
import shutil
import threading
import time
from datetime import UTC, datetime
from urllib.parse import quote

from bench import common, profiling
from herald_live import wire

ORIGIN = "http://bench.invalid"
MODULES = {
    "herald": "herald_live.pusher",
    "bare": "bench.bare_pusher",
    "herald+gc.freeze": "bench.gc_pusher",
    "herald+gc.log": "bench.gc_pusher",
    "herald+gc.periodic": "bench.gc_pusher",
}
GC_FREEZE = {"herald+gc.freeze": "1", "herald+gc.periodic": "periodic"}
NODE_PEER = common.ROOT / "bench" / "node_peer"
# Servers whose sockets name their room in the query string (no token).
QUERY_ROOM = ("bare", "node")


def _node() -> str:
    """The node binary, and the npm packages of the peer (``make deps`` runs ``npm ci``)."""
    binary = shutil.which("node")
    if binary is None:
        raise SystemExit("section 4's node peer needs node on PATH (Node 20)")
    if not (common.ROOT / "node_modules" / "@socket.io" / "redis-adapter").exists():
        raise SystemExit("section 4's node peer needs its npm packages: run `make deps` (npm ci)")
    return binary


def server_command(kind: str) -> list[str]:
    if kind == "node":
        return [_node(), str(NODE_PEER / "server.js")]
    return [common.PY, "-m", MODULES[kind]]


class ClientProcess:
    """One load-client process (or another JSON-lines child) and a thread that queues its output lines."""

    def __init__(self, name: str, env: dict, log_dir, config: dict, args: list[str] | None = None) -> None:
        args = args or [common.PY, "-m", "bench.loadclient"]
        self.service = common.Service(name, args, env, log_dir, pipes=True).start()
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.send(config)

    def _read(self) -> None:
        for line in self.service.process.stdout:
            self.lines.put(line)

    def send(self, obj: dict) -> None:
        self.service.process.stdin.write(json.dumps(obj) + "\n")
        self.service.process.stdin.flush()

    def receive(self, timeout: float) -> dict:
        try:
            return json.loads(self.lines.get(timeout=timeout))
        except queue.Empty:
            raise TimeoutError(
                f"{self.service.name} said nothing for {timeout}s:\n{self.service.log()[-2000:]}"
            ) from None

    def stop(self) -> None:
        try:
            self.send({"cmd": "quit"})
            self.service.process.wait(timeout=10)
        except Exception:  # noqa: BLE001, S110 - stopped below in any case
            pass
        self.service.stop(timeout=5)


class Plan:
    """Users 0..U-1, two sessions (rooms, sockets) each."""

    def __init__(self, users: int, run_id: str, secret: str, *, session_expiry: bool = True) -> None:
        self.users = users
        self.rooms: list[list[str]] = []
        self.sockets: list[dict] = []
        # As the web signs them: with the session's expiry when the token format has it (the pusher then
        # keeps a timer per socket to drop it at that time).
        extra = {}
        if session_expiry and "session_expires_at" in inspect.signature(wire.sign_token).parameters:
            extra["session_expires_at"] = int(time.time()) + 14 * 24 * 3600
        for user in range(users):
            rooms = []
            for session in range(2):
                digest = wire.session_digest(f"bench4-{run_id}-{user}-{session}")
                room = wire.session_room(digest)
                rooms.append(room)
                token = wire.sign_token(secret=secret, session=digest, user_id=user + 1, ttl_seconds=3600, **extra)
                self.sockets.append({"user": user, "token": token, "room": room})
            self.rooms.append(rooms)

    def specs(self, kind: str) -> list[dict]:
        if kind in QUERY_ROOM:
            return [{"user": s["user"], "query": f"room={quote(s['room'])}"} for s in self.sockets]
        return [{"user": s["user"], "auth": {"token": s["token"]}} for s in self.sockets]


class Publisher:
    """Publishes numbered events through the workers' publisher, with the publish time inside."""

    def __init__(self) -> None:
        from herald_live.infra import publisher

        self.emit = publisher.emit_to_rooms
        self.seq = 0
        self.stamp = datetime.now(UTC).isoformat()

    def _one(self, plan: Plan) -> None:
        seq = self.seq
        self.seq += 1
        data = {"id": seq, "verb": "bench", "level": "info", "actor": "bench", "timestamp": self.stamp}
        data.update(unread=True, bench_seq=seq, bench_t=time.monotonic())
        self.emit(rooms=plan.rooms[seq % plan.users], payload=wire.notification_created(data))

    def paced(self, plan: Plan, *, rate: float, seconds: float) -> dict:
        count = int(rate * seconds)
        started = time.monotonic()
        worst_lag = 0.0
        for i in range(count):
            due = started + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                worst_lag = max(worst_lag, -delay)
            self._one(plan)
        took = time.monotonic() - started
        return {"events": count, "publish_seconds": round(took, 3), "achieved_rate": round(count / took, 1)} | {
            "worst_publisher_lag_ms": round(worst_lag * 1000, 2)
        }

    def batch_burst(self, plan: Plan, chunk: int = 1000) -> dict:
        """One event to every user as the fan-out publishes it now: one Redis message per chunk of recipients."""
        from herald_live.infra import publisher

        started = time.monotonic()
        for first in range(0, plan.users, chunk):
            messages = []
            for _ in range(first, min(plan.users, first + chunk)):
                seq = self.seq
                self.seq += 1
                data = {"id": seq, "verb": "bench", "level": "info", "actor": "bench", "timestamp": self.stamp}
                data.update(unread=True, bench_seq=seq, bench_t=time.monotonic())
                messages.append((plan.rooms[seq % plan.users], wire.notification_created(data)))
            publisher.emit_batch(messages=messages)
        return {"events": plan.users, "publish_seconds": round(time.monotonic() - started, 3), "t0": started}

    def burst(self, plan: Plan) -> dict:
        started = time.monotonic()
        for _ in range(plan.users):
            self._one(plan)
        return {"events": plan.users, "publish_seconds": round(time.monotonic() - started, 3), "t0": started}


class NodePublisher:
    """The node peer's publisher: the same events as ``Publisher`` (seq, rooms, pace, ``bench_seq``/``bench_t``),
    published by bench/node_peer/emit.js with ``@socket.io/redis-emitter``, one publish per event."""

    def __init__(self, plan: Plan, env: dict, log_dir, name: str, key: str) -> None:
        self.seq = 0
        stamp = datetime.now(UTC).isoformat()
        template = wire.notification_created({"verb": "bench", "level": "info", "actor": "bench", "timestamp": stamp})
        config = {"redis_url": env["REDIS_URL"], "key": key, "rooms": plan.rooms, "template": template}
        self.process = ClientProcess(name, env, log_dir, config, args=[_node(), str(NODE_PEER / "emit.js")])
        self.process.receive(timeout=30)

    def _run(self, command: dict, count: int, timeout: float) -> dict:
        self.process.send(command | {"first": self.seq})
        self.seq += count
        return self.process.receive(timeout=timeout)

    def paced(self, plan: Plan, *, rate: float, seconds: float) -> dict:
        command = {"cmd": "paced", "rate": rate, "seconds": seconds}
        return self._run(command, int(rate * seconds), timeout=seconds + 30)

    def burst(self, plan: Plan) -> dict:
        return self._run({"cmd": "burst"}, plan.users, timeout=60)

    def stop(self) -> None:
        self.process.stop()


def _combine(reports: list[dict]) -> dict:
    latencies = [x / 1000 for r in reports for x in r["latencies_ms"]]
    firsts = [r["first_receive"] for r in reports if r["first_receive"]]
    lasts = [r["last_receive"] for r in reports if r["last_receive"]]
    out = {key: sum(r[key] for r in reports) for key in ("sockets", "deliveries", "lost", "doubled", "stray")}
    out["disconnects"] = sum(r["disconnects"] for r in reports)
    out["latency"] = common.summary_ms(latencies)
    out["first_receive"] = min(firsts) if firsts else None
    out["last_receive"] = max(lasts) if lasts else None
    errors = [e for r in reports for e in r["errors"]]
    if errors:
        out["client_errors"] = errors[:3]
    return out


def _has_batches() -> bool:
    from herald_live.infra import publisher

    return hasattr(publisher, "emit_batch") and hasattr(wire, "BATCH_EVENT")


def _node_key(env: dict) -> str:
    """The node peer's adapter key (channel prefix): the run's own, as Herald's channel is."""
    return f"{env['HERALD_CHANNEL_PREFIX']}.node"


def _wait_subscribed(env: dict, timeout: float = 20, *, kind: str = "herald") -> None:
    client = common.redis_client(env)
    channel = wire.socketio_channel(env["HERALD_CHANNEL_PREFIX"])
    if kind == "node":
        # The adapter subscribes to its request channel right after its pattern (same connection, in order).
        channel = f"{_node_key(env)}-request#/#"
    try:
        common.wait_until(
            lambda: dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) >= 1,
            timeout=timeout,
            what="the server's Redis subscription",
        )
    finally:
        client.close()


def _gc_pauses(log: str, phases: list[dict]) -> dict:
    """What bench.gclog logged: full collections longer than 5 ms, in all and within each measured phase."""
    full = []
    for line in log.splitlines():
        parts = line.split()
        if line.startswith("gc gen2") and parts[-1].startswith("at="):
            full.append((float(parts[2]), float(parts[-1][3:])))
    for phase in phases:
        inside = [ms for ms, at in full if phase["t_start"] <= at <= phase["t_end"]]
        phase["gc_gen2_pauses"] = [round(ms, 1) for ms in inside]
    durations = [ms for ms, _ in full]
    return {
        "gen2_over_5ms": len(durations),
        "gen2_max_ms": max(durations, default=0.0),
        "gen2_total_ms": round(sum(durations), 1),
    }


def run_server(
    kind: str, mode: str, plan: Plan, env: dict, *, seconds: float, rates: list[int], bursts: int, profile_dir
) -> dict:
    log_dir = common.run_dir(env["HERALD_BENCH_RUN"]) / "logs"
    sockets = len(plan.sockets)
    port = common.free_port()
    server_env = {**env, "HERALD_PUSHER_PORT": str(port), "HERALD_PUSHER_ASYNC_MODE": mode, "BENCH_ASYNC_MODE": mode}
    server_env.update(HERALD_ALLOWED_ORIGINS=ORIGIN, HERALD_PUSHER_MAX_CONNECTIONS="10000")
    # Every load client connects from 127.0.0.1, 100 handshakes at a time: the per-address cap on sockets that have
    # not authenticated yet (20 by default, against floods from one address) would refuse some on a busy machine.
    server_env["HERALD_PUSHER_MAX_PENDING_PER_ADDRESS"] = "10000"
    server_env["BENCH_GC_FREEZE"] = GC_FREEZE.get(kind, "0")
    server_env["BENCH_NODE_KEY"] = _node_key(env)
    name = f"s4-{kind.replace('+', '-')}-{mode}-{sockets}"
    server = common.Service(name, server_command(kind), server_env, log_dir).start()
    clients: list[ClientProcess] = []
    publisher = None
    result: dict = {"server": kind, "async_mode": mode, "sockets_wanted": sockets, "users": plan.users}
    try:
        server.wait_for_http(f"http://127.0.0.1:{port}/healthz")
        time.sleep(0.5)
        idle = common.memory_kb(server.pid)
        specs = plan.specs(kind)
        n_clients = 2
        for index in range(n_clients):
            config = {"host": "127.0.0.1", "port": port, "origin": ORIGIN, "concurrency": 50}
            config["sockets"] = specs[index::n_clients]
            clients.append(ClientProcess(f"{name}-client{index}", env, log_dir, config))
        connect_started = time.monotonic()
        ready = [c.receive(timeout=180) for c in clients]
        result["connect_seconds"] = round(time.monotonic() - connect_started, 2)
        result["sockets"] = sum(r["ready"] for r in ready)
        result["connect_failed"] = sum(r["failed"] for r in ready)
        if result["connect_failed"]:
            result["connect_errors"] = [e for r in ready for e in r["errors"]][:3]
        # python-socketio subscribes to the queue when the first socket connects.
        _wait_subscribed(env, kind=kind)
        time.sleep(1.0)
        connected = common.memory_kb(server.pid)
        result["rss_idle_mb"] = round(idle["rss_kb"] / 1024, 1)
        result["rss_connected_mb"] = round(connected["rss_kb"] / 1024, 1)
        result["kb_per_socket"] = round((connected["rss_kb"] - idle["rss_kb"]) / max(1, result["sockets"]), 1)
        publisher = (
            NodePublisher(plan, env, log_dir, f"{name}-emitter", _node_key(env)) if kind == "node" else Publisher()
        )

        def phase(label: str, publish, *, profile_seconds: float = 0) -> dict:
            for c in clients:
                c.send({"cmd": "start"})
            for c in clients:
                c.receive(timeout=30)
            spy = None
            if profile_seconds and profile_dir is not None:
                spy_out = profile_dir / f"{name}-{label.replace('/', 'per')}.txt"
                spy = profiling.start(server.pid, seconds=profile_seconds, out=spy_out)
            server_cpu0 = common.cpu_seconds(server.pid)
            client_cpu0 = sum(common.cpu_seconds(c.service.pid) for c in clients)
            first_seq, t0 = publisher.seq, time.monotonic()
            published = publish()
            for c in clients:
                c.send({"cmd": "report", "first": first_seq, "end": publisher.seq, "users": plan.users})
            combined = _combine([c.receive(timeout=90) for c in clients])
            wall = time.monotonic() - t0
            start = published.pop("t0", t0)
            out = {"phase": label, **published, **combined}
            out["expected_deliveries"] = published["events"] * 2
            if combined["last_receive"]:
                span = combined["last_receive"] - start
                out["deliveries_per_s"] = round(combined["deliveries"] / span, 1) if span > 0 else None
            out["server_cpu_seconds"] = round(common.cpu_seconds(server.pid) - server_cpu0, 4)
            out["server_cpu_pct"] = round(100 * out["server_cpu_seconds"] / wall, 1)
            out["clients_cpu_pct"] = round(
                100 * (sum(common.cpu_seconds(c.service.pid) for c in clients) - client_cpu0) / wall, 1
            )
            mem = common.memory_kb(server.pid)
            out["server_rss_mb"], out["server_peak_rss_mb"] = (
                round(mem["rss_kb"] / 1024, 1),
                round(mem["hwm_kb"] / 1024, 1),
            )
            if spy is not None:
                out["profile"] = profiling.finish(spy, spy_out)
            for key in ("first_receive", "last_receive"):
                out.pop(key, None)
            out["t_start"], out["t_end"] = round(t0, 3), round(time.monotonic(), 3)
            return out

        phase("warm-up", lambda: publisher.paced(plan, rate=100, seconds=1))
        result["phases"] = []
        for rate in rates:
            profile_seconds = seconds if rate == max(rates) and profile_dir is not None else 0
            label = f"{rate}/s"
            result["phases"].append(
                phase(
                    label,
                    lambda r=rate: publisher.paced(plan, rate=r, seconds=seconds),
                    profile_seconds=profile_seconds,
                )
            )
        for round_no in range(bursts):
            time.sleep(1.0)
            result["phases"].append(phase(f"burst{round_no + 1}", lambda: publisher.burst(plan)))
        if kind not in QUERY_ROOM and _has_batches():
            # Profiled as a whole: a round lasts a few tenths of a second (the pauses between rounds are idle,
            # and py-spy leaves idle samples out).
            spy = spy_out = None
            if profile_dir is not None:
                spy_out = profile_dir / f"{name}-batches.txt"
                spy = profiling.start(server.pid, seconds=bursts * 2.5, out=spy_out)
            for round_no in range(bursts):
                time.sleep(1.0)
                result["phases"].append(phase(f"batch{round_no + 1}", lambda: publisher.batch_burst(plan)))
            if spy is not None:
                result["batch_profile"] = profiling.finish(spy, spy_out)
        result["server_alive"] = server.alive()
        if kind not in ("herald", "node"):
            result["gc_pauses"] = _gc_pauses(server.log(), result["phases"])
    finally:
        if isinstance(publisher, NodePublisher):
            publisher.stop()
        for c in clients:
            c.stop()
        server.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sockets", default="")
    parser.add_argument("--servers", default="")
    parser.add_argument("--without-session-expiry", action="store_true", help="tokens without the session's expiry")
    args = parser.parse_args()
    common.install_signal_handlers()
    env = dict(os.environ)
    common.check_env_is_safe(env)
    counts = [int(x) for x in args.sockets.split(",")] if args.sockets else ([1000] if args.quick else [1000, 4000])
    seconds = 5.0 if args.quick else 10.0
    # ``node`` alone is the node peer (its "mode" is node's own event loop).
    servers = [tuple((s + ":node").split(":")[:2]) for s in args.servers.split(",")] if args.servers else None
    profile_dir = None
    if args.profile and profiling.py_spy():
        profile_dir = common.run_dir(env["HERALD_BENCH_RUN"]) / "profiles"
        profile_dir.mkdir(exist_ok=True)
    results = []
    try:
        for count in counts:
            plan = Plan(
                count // 2,
                env["HERALD_BENCH_RUN"],
                env["HERALD_TOKEN_SECRET"],
                session_expiry=not args.without_session_expiry,
            )
            chosen = servers or [
                ("herald", "eventlet"),
                ("herald", "gevent"),
                ("bare", "eventlet"),
                ("bare", "gevent"),
                ("node", "node"),
            ]
            if not servers and count == max(counts):
                # Diagnosis (the same pusher, its full collections logged) and a mitigation to compare.
                chosen += [("herald+gc.log", "eventlet"), ("herald+gc.periodic", "eventlet")]
            for kind, mode in chosen:
                print(f"  section 4: {kind} {mode}, {count} sockets", flush=True)
                profile_here = profile_dir if kind == "herald" and count == max(counts) else None
                entry = run_server(
                    kind,
                    mode,
                    plan,
                    env,
                    seconds=seconds,
                    rates=[200, 1000],
                    bursts=3 if args.quick else 9,
                    profile_dir=profile_here,
                )
                results.append(entry)
                common.write_json(common.Path(args.out), {"section4": results})
    finally:
        common.stop_all()
    common.write_json(common.Path(args.out), {"section4": results, "phase_seconds": seconds})


if __name__ == "__main__":
    main()

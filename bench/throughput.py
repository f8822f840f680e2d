"""Interactive throughput (issue 13, item 1): one-recipient events through the HTTP API at rising rates.

``python -m bench.throughput [--rates 50,100,200,300] [--seconds 20] [--sockets 2000] [--db postgres|sqlite]
[--workers 2,1] [--web-workers 3] [--profile]``, alone or as the last, optional section of ``bench.run``.

It starts the system as bench/dbsuite.py does (gunicorn web, an interactive and a bulk Celery worker, the
pusher; its own database, Redis db 14, prefixes and ports), creates ``--sockets`` users with live sessions and
a service token (``manage.py create_service_token``), and connects one socket per user on one of that user's
sessions (bench/loadclient.py's client, a process of its own). Then, per rate, an open-loop generator offers
``rate x seconds`` one-recipient events (``POST /herald/api/v1/events``, recipient = user seq % N, verb
``tp-<run>-<seq>``) on a fixed schedule: a pool of threads takes each request at its due time, so a slow
server does not slow the offered rate (a request that starts late counts from its due time, and the
generator's own lag is reported). Per rate it reports offered/s, accepted/s (202s), end-to-end p50/p99 from
the request's due time to the socket's receipt (matched by the unique verb; CLOCK_MONOTONIC is system-wide),
lost (accepted, never received within the deadline), doubled (received twice) and POST p50/p99.
Results go to bench/results/<timestamp>-throughput.json (or ``--out``) and are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import inspect
import json
import os
import queue
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

from bench import common, profiling

RESULTS = common.ROOT / "bench" / "results"
VERB_PREFIX = "tp-"
API_PATH = "/herald/api/v1/events"
FLOOR_PATH = "/bench/floor"


# --- the socket side: bench/loadclient.py's client, recording (seq, receipt time) per verb --------------------


def client_main() -> None:
    """A load-client process (``python -m bench.throughput --client``): JSON lines in, JSON lines out.

    Commands after the configuration: ``{"cmd": "drain"}`` (the arrivals since the last drain, as
    [[seq, monotonic time, socket user]]), ``{"cmd": "quit"}``.
    """
    from bench import loadclient

    class Client(loadclient.Client):
        def __init__(self, config: dict) -> None:
            super().__init__(config)
            self.arrivals: list[list] = []

        async def pump(self, sock) -> None:
            try:
                while True:
                    message = await sock.read_message()
                    if message.startswith("42"):
                        now = time.monotonic()
                        verb = str(json.loads(message[2:])[1].get("data", {}).get("verb", ""))
                        if verb.startswith(self.config["verb_prefix"]):
                            self.arrivals.append([int(verb.rsplit("-", 1)[1]), now, sock.user])
                        self.deliveries += 1
                    elif message == "2":
                        sock.send("3")
                    elif message.startswith("41") or message.startswith("1"):
                        raise loadclient.Closed
            except loadclient.Closed:
                sock.closed_by_server = True
                self.disconnects += 1
            except Exception as exc:  # noqa: BLE001 - counted and reported, never fatal
                self.errors.append(repr(exc)[:200])
                self.disconnects += 1

    async def run() -> None:
        config = json.loads(await asyncio.to_thread(sys.stdin.readline))
        client = Client(config)
        loadclient.print_json(await client.connect_all())
        for _ in range(100_000):  # bounded; a closed stdin (parent gone) ends it too
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            command = json.loads(line)
            if command["cmd"] == "drain":
                taken, client.arrivals = client.arrivals, []
                loadclient.print_json(
                    {"arrivals": taken, "disconnects": client.disconnects, "errors": client.errors[-3:]}
                )
            elif command["cmd"] == "quit":
                break
        await client.close()

    asyncio.run(run())


# --- the HTTP side: an open-loop generator -------------------------------------------------------------------


class Generator:
    """Offers POSTs at fixed due times from a pool of threads; records each request's due, start and end."""

    def __init__(self, *, host: str, port: int, token: str, threads: int) -> None:
        self.host, self.port, self.token = host, port, token
        self.path = API_PATH
        self.jobs: queue.Queue = queue.Queue()
        self.done: list[dict] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]
        for thread in self.threads:
            thread.start()

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            due, seq, user_id, verb = job
            # Past due already: the generator itself is late, which is counted from due time (no coordinated omission).
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            started = time.monotonic()
            status, error = 0, ""
            body = json.dumps({"recipients": [user_id], "verb": verb})
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                conn.request(
                    "POST",
                    self.path,
                    body=body,
                    headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
                )
                response = conn.getresponse()
                response.read()
                status = response.status
                conn.close()
            except Exception as exc:  # noqa: BLE001 - counted as not accepted
                error = repr(exc)[:120]
            ended = time.monotonic()
            with self.lock:
                self.done.append(
                    {"seq": seq, "due": due, "start": started, "end": ended, "status": status, "error": error}
                )

    def offer(self, *, rate: float, seconds: float, first_seq: int, users: list[int], verb_of) -> tuple[int, float]:
        """Schedules ``rate x seconds`` requests from now + 0.2 s; returns (count, schedule start)."""
        count = int(rate * seconds)
        t0 = time.monotonic() + 0.2
        # Handed out slightly ahead of time, in order: each thread sleeps to its job's due time.
        for i in range(count):
            due = t0 + i / rate
            ahead = due - 0.05 - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            seq = first_seq + i
            self.jobs.put((due, seq, users[seq % len(users)], verb_of(seq)))
        return count, t0

    def wait(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.done) >= count:
                    return
            time.sleep(0.05)

    def take(self) -> list[dict]:
        with self.lock:
            taken, self.done = self.done, []
        return taken

    def stop(self) -> None:
        for _ in self.threads:
            self.jobs.put(None)


# --- the run -------------------------------------------------------------------------------------------------------


def _sessions_for_sockets(count: int) -> list[dict]:
    """One live session of each of the first ``count`` bench users: user id and session key."""
    from user_sessions.models import Session

    out, seen = [], set()
    rows = Session.objects.filter(user__username__startswith="bench-").order_by("user_id", "session_key")
    for user_id, key, expire in rows.values_list("user_id", "session_key", "expire_date").iterator():
        if user_id in seen:
            continue
        seen.add(user_id)
        out.append({"user_id": user_id, "session_key": key, "expire": int(expire.timestamp())})
        if len(out) >= count:
            break
    return out


def _socket_specs(sessions: list[dict], secret: str) -> list[dict]:
    from herald_live import wire

    extra_ok = "session_expires_at" in inspect.signature(wire.sign_token).parameters
    specs = []
    for s in sessions:
        extra = {"session_expires_at": s["expire"]} if extra_ok else {}
        token = wire.sign_token(
            secret=secret,
            session=wire.session_digest(s["session_key"]),
            user_id=s["user_id"],
            ttl_seconds=3600,
            **extra,
        )
        specs.append({"user": s["user_id"], "auth": {"token": token}})
    return specs


class SocketClients:
    """A few load-client processes holding the sockets; ``drain()`` gathers their arrivals."""

    def __init__(self, specs: list[dict], env: dict, log_dir, *, pusher_url: str, origin: str, processes: int) -> None:
        from bench.socketsuite import ClientProcess

        host, port = pusher_url.removeprefix("http://").rsplit(":", 1)
        self.clients = []
        for n in range(processes):
            config = {"host": host, "port": int(port), "origin": origin, "concurrency": 50}
            config |= {"sockets": specs[n::processes], "verb_prefix": VERB_PREFIX}
            args = [common.PY, "-m", "bench.throughput", "--client"]
            self.clients.append(ClientProcess(f"throughput-sockets-{n}", env, log_dir, config, args=args))
        self.connected = [c.receive(timeout=300) for c in self.clients]

    def drain(self) -> tuple[list, int]:
        arrivals, disconnects = [], 0
        for client in self.clients:
            client.send({"cmd": "drain"})
        for client in self.clients:
            answer = client.receive(timeout=60)
            arrivals += answer["arrivals"]
            disconnects += answer["disconnects"]
        return arrivals, disconnects

    def stop(self) -> None:
        for client in self.clients:
            client.stop()


def measure_floor(*, gen: Generator, rate: float, seconds: float, users: list[int], first_seq: int, cpu) -> dict:
    """The same requests at the same rate to /bench/floor (bench/floor_urls.py): the cost of the HTTP server,
    Django's middleware and the client for a request that does nothing, beside what a send costs."""
    gen.take()
    gen.path = FLOOR_PATH
    try:
        count, t0 = gen.offer(rate=rate, seconds=seconds, first_seq=first_seq, users=users, verb_of=str)
        gen.wait(count, timeout=seconds + 120)
    finally:
        gen.path = API_PATH
    requests = gen.take()
    answered = [r for r in requests if r["status"] == 202]
    last_end = max((r["end"] for r in requests), default=t0)
    return {
        "rate_offered": rate,
        "requests": count,
        "answered": len(answered),
        "answered_per_s": round(len(answered) / max(1e-9, last_end - t0), 1),
        "post": common.summary_ms([r["end"] - r["start"] for r in requests]),
        "cpu_seconds": cpu.result(),
        "errors": [r["error"] for r in requests if r["error"]][:3],
    }


def measure_rate(
    *,
    gen: Generator,
    sockets: SocketClients,
    rate: float,
    seconds: float,
    users: list[int],
    first_seq: int,
    run: str,
    cpu,
    deadline: float,
) -> dict:
    verb_of = lambda seq: f"{VERB_PREFIX}{run}-{seq}"  # noqa: E731
    gen.take()
    count, t0 = gen.offer(rate=rate, seconds=seconds, first_seq=first_seq, users=users, verb_of=verb_of)
    gen.wait(count, timeout=seconds + 120)
    requests = gen.take()
    accepted = {r["seq"]: r for r in requests if r["status"] == 202}
    arrivals: dict[int, list[float]] = {}
    wait_until = time.monotonic() + deadline
    while time.monotonic() < wait_until:
        got, disconnects = sockets.drain()
        for seq, t, _user in got:
            arrivals.setdefault(seq, []).append(t)
        if all(seq in arrivals for seq in accepted):
            break
        cpu.sample()
        time.sleep(0.5)
    time.sleep(1.0)  # late doubles
    got, disconnects = sockets.drain()
    for seq, t, _user in got:
        arrivals.setdefault(seq, []).append(t)
    cpu_seconds = cpu.result()
    e2e = [min(arrivals[seq]) - r["due"] for seq, r in accepted.items() if seq in arrivals]
    last_end = max((r["end"] for r in requests), default=t0)
    statuses: dict[str, int] = {}
    for r in requests:
        key = str(r["status"]) if r["status"] else "error"
        statuses[key] = statuses.get(key, 0) + 1
    in_range = range(first_seq, first_seq + count)
    out = {
        "rate_offered": rate,
        "events": count,
        "offered_per_s": round(count / seconds, 1),
        "accepted": len(accepted),
        # Over the time the server took to answer them all (from the first due time to the last answer).
        "accepted_per_s": round(len(accepted) / max(1e-9, last_end - t0), 1),
        "statuses": statuses,
        "e2e": common.summary_ms(e2e),
        "post": common.summary_ms([r["end"] - r["start"] for r in requests]),
        "post_from_due": common.summary_ms([r["end"] - r["due"] for r in requests]),
        "generator_lag": common.summary_ms([max(0.0, r["start"] - r["due"]) for r in requests]),
        "lost": sum(1 for seq in accepted if seq not in arrivals),
        "doubled": sum(len(times) - 1 for seq, times in arrivals.items() if seq in in_range and len(times) > 1),
        "received_not_accepted": sum(1 for seq in arrivals if seq in in_range and seq not in accepted),
        "socket_disconnects": disconnects,
        "cpu_seconds": cpu_seconds,
        "errors": [r["error"] for r in requests if r["error"]][:3],
    }
    return out


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--client"]:
        client_main()
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="50,100,200,300")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--workers", default="2,1", help="Celery concurrency of the interactive and bulk workers")
    parser.add_argument("--web-workers", type=int, default=6, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=48, help="generator threads (open loop)")
    parser.add_argument("--client-processes", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=30, help="seconds after the last answer to wait for receipts")
    parser.add_argument(
        "--drain-pace-ms", type=int, default=None, help="HERALD_DRAIN_PACE_MS of the workers (default: the site's)"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the web, interactive worker at the top rate")
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    common.install_signal_handlers()
    nofile = common.raise_nofile_limit()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_id, env = common.run_env(stamp)
    web_port, pusher_port = common.free_port(), common.free_port()
    env.update(
        BENCH_DB=args.db,
        BENCH_WORKERS=args.workers,
        BENCH_WEB_URL=f"http://127.0.0.1:{web_port}",
        BENCH_PUSHER_URL=f"http://127.0.0.1:{pusher_port}",
        HERALD_PUSHER_PORT=str(pusher_port),
        HERALD_PUSHER_URL=f"http://127.0.0.1:{pusher_port}",
        HERALD_ALLOWED_ORIGINS=f"http://127.0.0.1:{web_port}",
        HERALD_BENCH_RUN=run_id,
        # The limit stays on (its Redis round trip is part of each request), high enough never to refuse.
        HERALD_API_RATE_LIMIT="100000000",
        HERALD_SEND_RATE_LIMIT="1000000",
        # Every socket connects from 127.0.0.1, many at once: the pusher's cap of unauthenticated transports per
        # address (20 by default) would refuse some of them (401), and their users' events would count as lost.
        HERALD_PUSHER_MAX_PENDING_PER_ADDRESS=str(args.sockets * 2),
        # One line per send and per fan-out at INFO is I/O the measured path would pay for.
        HERALD_LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    )
    if args.drain_pace_ms is not None:
        env["HERALD_DRAIN_PACE_MS"] = str(args.drain_pace_ms)
    from bench import dbsuite

    db_url = dbsuite.prepare_database(args.db, run_id)
    env["DATABASE_URL"] = db_url
    os.environ.update(env)
    common.check_env_is_safe(env)
    results: dict = {
        "section": "throughput",
        "run": run_id,
        "started": stamp,
        "db": args.db,
        "sockets_wanted": args.sockets,
        "seconds_per_rate": args.seconds,
        "workers_interactive_bulk": args.workers,
        "web_workers": args.web_workers,
        "drain_pace_ms": args.drain_pace_ms,
        "machine": common.machine_info() | {"open_files_limit": nofile},
        "rates": [],
    }
    out_path = common.Path(args.out) if args.out else RESULTS / f"{stamp}-throughput.json"
    system = dbsuite.System(env)
    gen = sockets = None
    try:
        results["migrate_seconds"] = dbsuite.migrate(env)
        import django

        django.setup()
        from django.contrib.auth.hashers import make_password

        results["setup"] = dbsuite.ensure_users(args.sockets, make_password(dbsuite.PASSWORD))
        token = subprocess.run(
            [common.PY, str(common.ROOT / "manage.py"), "create_service_token", f"bench-throughput-{os.getpid()}"],
            cwd=common.ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout.strip()
        system.start_pusher()
        system.start_workers()
        _start_web(system, args.web_workers)
        sessions = _sessions_for_sockets(args.sockets)
        from django.db import connections

        connections.close_all()
        sockets = SocketClients(
            _socket_specs(sessions, env["HERALD_TOKEN_SECRET"]),
            env,
            system.log_dir,
            pusher_url=system.pusher_url,
            origin=system.web_url,
            processes=args.client_processes,
        )
        results["sockets"] = sum(c["ready"] for c in sockets.connected)
        results["socket_connect"] = sockets.connected
        users = [s["user_id"] for s in sessions]
        print(f"  throughput [{args.db}]: {results['sockets']} sockets on {len(users)} users", flush=True)
        host = "127.0.0.1"
        gen = Generator(host=host, port=web_port, token=token, threads=args.threads)
        seq = 0
        # Warm-up: every process has its connections and imports before the first rate.
        warm = measure_rate(
            gen=gen,
            sockets=sockets,
            rate=10,
            seconds=2,
            users=users,
            first_seq=seq,
            run=run_id[-6:],
            cpu=dbsuite.CpuTracker(system),
            deadline=20,
        )
        results["warmup"] = {k: warm[k] for k in ("accepted", "lost", "statuses")}
        seq += warm["events"]
        for rate in rates:
            dbsuite.settle()
            spies = _start_profiles(system, args.seconds) if args.profile and rate == max(rates) else []
            entry = measure_rate(
                gen=gen,
                sockets=sockets,
                rate=rate,
                seconds=args.seconds,
                users=users,
                first_seq=seq,
                run=run_id[-6:],
                cpu=dbsuite.CpuTracker(system),
                deadline=args.deadline,
            )
            if spies:
                entry["profiles"] = {name: profiling.finish(spy, path) for name, spy, path in spies}
            seq += entry["events"]
            results["rates"].append(entry)
            print(_line(entry), flush=True)
            common.write_json(out_path, results)
            dbsuite.clean_rows(args.db)
        results["floor"] = []
        for rate in rates:
            dbsuite.settle()
            floor = measure_floor(
                gen=gen, rate=rate, seconds=args.seconds, users=users, first_seq=seq, cpu=dbsuite.CpuTracker(system)
            )
            seq += floor["requests"]
            results["floor"].append(floor)
            print(_floor_line(floor), flush=True)
            common.write_json(out_path, results)
    finally:
        if gen is not None:
            gen.stop()
        if sockets is not None:
            sockets.stop()
        common.write_json(out_path, results)
        common.stop_all()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001, S110 - Django may not be set up
            pass
        common.purge_broker_keys(env)
        dbsuite.drop_database(args.db, db_url)
    print(render(results))
    print(f"results: {out_path.relative_to(common.ROOT) if out_path.is_relative_to(common.ROOT) else out_path}")
    return 0


def _start_web(system, workers: int) -> None:
    """As dbsuite's, with the issue's worker count and the deployment's config file."""
    port = system.web_url.rsplit(":", 1)[1]
    args = [common.PY, "-m", "gunicorn", "-c", str(common.ROOT / "web" / "gunicorn.conf.py"), "web.wsgi:application"]
    args += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--backlog", "2048"]
    args += ["--timeout", "120", "--graceful-timeout", "5", "--error-logfile", "-"]
    # The site's settings plus /bench/floor (bench/floor_urls.py); nothing else differs.
    env = {**system.env, "DJANGO_SETTINGS_MODULE": "bench.floor_settings"}
    system.web = common.Service(f"{system.env['BENCH_DB']}-web", args, env, system.log_dir)
    system.web.start().wait_for_http(f"{system.web_url}/accounts/login/")


def _start_profiles(system, seconds: float) -> list:
    """py-spy on the web (all gunicorn workers) and the interactive worker (its pool) for one rate."""
    directory = common.run_dir(system.tag) / "profiles"
    directory.mkdir(exist_ok=True)
    spies = []
    targets = [("web", system.web)] + [(w.name, w) for w in system.workers if "interactive" in w.name]
    for name, service in targets:
        path = directory / f"throughput-{name}.txt"
        spy = profiling.start(service.pid, seconds=seconds + 5, out=path, subprocesses=True)
        if spy is not None:
            spies.append((name, spy, path))
    return spies


def _per_request_ms(entry: dict, part: str) -> float | None:
    done = entry.get("accepted", entry.get("answered"))
    return round(1000 * entry["cpu_seconds"].get(part, 0) / done, 2) if done else None


def _floor_line(entry: dict) -> str:
    return (
        f"  floor {entry['rate_offered']:>6}/s offered -> {entry['answered_per_s']:>6}/s answered;"
        f" POST p50 {entry['post'].get('p50_ms')} p99 {entry['post'].get('p99_ms')} ms; CPU ms per request:"
        f" web {_per_request_ms(entry, 'web')}, client {_per_request_ms(entry, 'bench')},"
        f" machine {_per_request_ms(entry, 'machine')}"
    )


def _line(entry: dict) -> str:
    e2e, post = entry["e2e"], entry["post"]
    return (
        f"  {entry['offered_per_s']:>6}/s offered -> {entry['accepted_per_s']:>6}/s accepted;"
        f" e2e p50 {e2e.get('p50_ms')} p99 {e2e.get('p99_ms')} ms; POST p50 {post.get('p50_ms')}"
        f" p99 {post.get('p99_ms')} ms; lost {entry['lost']} doubled {entry['doubled']}"
    )


def render(results: dict) -> str:
    lines = [
        f"\nInteractive throughput [{results.get('db')}]: {results.get('sockets')} sockets,"
        f" web x{results.get('web_workers')}, workers {results.get('workers_interactive_bulk')}",
        f"{'offered/s':>10} {'accepted/s':>11} {'e2e p50':>9} {'e2e p99':>9} {'POST p50':>9} {'POST p99':>9}"
        f" {'lost':>5} {'doubled':>8}  CPU s (web/workers/pusher/postgres/redis of wall)",
    ]
    for r in results.get("rates", []):
        cpu = r["cpu_seconds"]
        lines.append(
            f"{r['offered_per_s']:>10} {r['accepted_per_s']:>11} {r['e2e'].get('p50_ms')!s:>9}"
            f" {r['e2e'].get('p99_ms')!s:>9} {r['post'].get('p50_ms')!s:>9} {r['post'].get('p99_ms')!s:>9}"
            f" {r['lost']:>5} {r['doubled']:>8}  {cpu.get('web')}/{cpu.get('workers')}/{cpu.get('pusher')}/"
            f"{cpu.get('postgres_server')}/{cpu.get('redis_server')} of {cpu.get('wall')}"
        )
    if results.get("floor"):
        lines.append("Floor: the same requests to a view that does nothing (same gunicorn, middleware, client)")
        lines += [_floor_line(entry) for entry in results["floor"]]
        lines.append("Sends, CPU ms per accepted event:")
        lines += [
            f"  {r['offered_per_s']:>6}/s offered: web {_per_request_ms(r, 'web')}, workers"
            f" {_per_request_ms(r, 'workers')}, postgres {_per_request_ms(r, 'postgres_server')}, pusher"
            f" {_per_request_ms(r, 'pusher')}, client {_per_request_ms(r, 'bench')},"
            f" machine {_per_request_ms(r, 'machine')}"
            for r in results.get("rates", [])
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

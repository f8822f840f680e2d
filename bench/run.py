"""The benchmark of issue 6: ``PYTHONPATH=. .venv/bin/python -m bench.run [--quick] [--db sqlite|postgres|both]
[--sections 1,2,3,4] [--profile] [--throughput RATES] [--retention ROWS]``.

It raises the open-files limit, gives the run its own Redis database (14), channel and broker-key prefixes,
secrets and ports, then runs sections 1-3 once per database (``bench.dbsuite``, a child process each) and
section 4 once (``bench.socketsuite``). It prints a table, checks the issue's targets and writes
bench/results/<timestamp>.json. Every process it started is stopped, also on Ctrl-C or an error.
See docs/benchmark.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from statistics import median

from bench import common, retention

RESULTS = common.ROOT / "bench" / "results"
# Hard ceilings per child, so that a stuck run ends by itself.
TIMEOUTS = {"quick": {"db": 900, "sockets": 900}, "full": {"db": 2400, "sockets": 1800}}


def _git() -> dict:
    def out(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=common.ROOT, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = [line for line in out("status", "--porcelain").splitlines() if not line.endswith("bench/")]
    return {"commit": out("rev-parse", "HEAD").strip(), "uncommitted_changes": len(changed)}


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    names = ["Django", "django-notifications-community", "celery", "redis", "Flask-SocketIO", "python-socketio"]
    names += ["python-engineio", "eventlet", "gevent", "gunicorn", "psycopg"]
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def run_child(args: list[str], env: dict, *, timeout: float) -> int:
    """Runs a suite in the foreground process group (Ctrl-C reaches it and it cleans up after itself)."""
    child = subprocess.Popen([common.PY, "-m", *args], cwd=common.ROOT, env=env)
    try:
        return child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  ! {args[0]} exceeded {timeout}s; stopping it", file=sys.stderr)
        child.terminate()
    except KeyboardInterrupt:
        # Ctrl-C reached the child too; a SIGTERM sent to this process alone did not.
        print("  ! interrupted; waiting for the suite to stop its processes", file=sys.stderr)
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.terminate()
        else:
            raise
        try:
            child.wait(timeout=90)
        except subprocess.TimeoutExpired:
            child.kill()
        raise
    try:
        return child.wait(timeout=90)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.wait(timeout=10)


# --- summaries ------------------------------------------------------------------------------------------


def _bursts(server: dict, kind: str = "burst") -> dict:
    """Burst rounds: ``burst`` (one message per event, as bare gets) or ``batch`` (Herald's chunk messages)."""
    rounds = [p for p in server.get("phases", []) if p["phase"].startswith(kind)]
    rates = [p["deliveries_per_s"] for p in rounds if p.get("deliveries_per_s")]
    # The server's CPU per delivery moves less with the rest of the machine than the rate does.
    cpu_us = [1e6 * _server_cpu_seconds(p) / p["deliveries"] for p in rounds if p.get("deliveries")]
    return {
        "deliveries_per_s_median": round(median(rates), 1) if rates else None,
        "deliveries_per_s_range": [round(min(rates), 1), round(max(rates), 1)] if rates else None,
        "server_cpu_us_per_delivery_median": round(median(cpu_us), 1) if cpu_us else None,
        "p99_ms_worst": max((p["latency"].get("p99_ms") or 0) for p in rounds) if rounds else None,
        "max_ms": max((p["latency"].get("max_ms") or 0) for p in rounds) if rounds else None,
        "lost": sum(p["lost"] for p in rounds),
        "doubled": sum(p["doubled"] for p in rounds),
    }


def _server_cpu_seconds(phase: dict) -> float:
    """The server's CPU over the phase (from publish until every client reported); older results hold a share."""
    if "server_cpu_seconds" in phase:
        return phase["server_cpu_seconds"]
    return phase["server_cpu_pct"] / 100 * (phase["t_end"] - phase["t_start"])


def _pauses(phase: dict) -> str:
    """Full collections (ms) logged within a phase, for the servers that log them (not the plain pusher)."""
    if "gc_gen2_pauses" not in phase:
        return "n/a"
    return "+".join(f"{ms:.0f}" for ms in phase["gc_gen2_pauses"]) or "none"


def _phase(server: dict, name: str) -> dict:
    return next((p for p in server.get("phases", []) if p["phase"] == name), {})


def evaluate(results: dict) -> list[dict]:
    """The issue's targets against what was measured; each with its numbers."""
    targets = []
    for db, suite in results.get("databases", {}).items():
        s1 = suite.get("section1") or []
        if s1:
            top = max(s1, key=lambda e: e["recipients"])
            ratio = top["ratio_pipeline_to_bare"]
            targets.append(
                {
                    "target": f"[{db}] {top['recipients']} recipients end-to-end within 2x bare bulk_create",
                    "measured": f"pipeline {top['pipeline']['seconds']:.2f}s vs bare "
                    f"{min(top['bare_bulk_create']['seconds'], top['bare_bulk_create_again']['seconds']):.2f}s"
                    f" = x{ratio}",
                    "met": ratio <= 2.0 and top["pipeline"].get("status") == "done",
                }
            )
        s2 = suite.get("section2")
        if s2:
            keys = ["no_worker_one", "no_worker_everyone", "worker_one", "worker_everyone"]
            p99 = {k: s2[k].get("p99_ms") for k in keys}
            refused = sum(n for k in keys for code, n in s2[k]["statuses"].items() if str(code) != "202")
            targets.append(
                {
                    "target": f"[{db}] send request p99 < 25 ms, flat ({s2['users_present']} users present)",
                    "measured": ", ".join(f"{k} p99 {v} ms" for k, v in p99.items()) + f"; non-202: {refused}",
                    "met": all(v is not None and v < 25 for v in p99.values()) and refused == 0,
                }
            )
        s3 = suite.get("section3")
        if s3 and s3.get("idle", {}).get("p99_ms") and s3.get("during_bulk", {}).get("p99_ms"):
            idle, busy = s3["idle"]["p99_ms"], s3["during_bulk"]["p99_ms"]
            targets.append(
                {
                    "target": f"[{db}] interactive p99 during a bulk job within 2x idle",
                    "measured": f"idle p99 {idle} ms, during bulk p99 {busy} ms (x{busy / idle:.2f}); "
                    f"{s3['during_bulk']['during_bulk']}/{s3['sends']} sends overlapped the job; "
                    f"lost {s3['idle']['lost'] + s3['during_bulk']['lost']}",
                    "met": busy <= 2 * idle and s3["idle"]["lost"] + s3["during_bulk"]["lost"] == 0,
                }
            )
            targets.append(
                {
                    "target": f"[{db}] for information: section 3's send requests (50 ms apart, each fanned out)",
                    "measured": f"idle p99 {s3['idle']['request']['p99_ms']} ms, during a bulk job p99 "
                    f"{s3['during_bulk']['request']['p99_ms']} ms",
                    "met": None,
                }
            )
    servers = results.get("section4") or []
    if servers:
        top = max(s["sockets_wanted"] for s in servers)
        at_top = [s for s in servers if s["sockets_wanted"] == top]
        herald = [s for s in at_top if s["server"] == "herald"]
        problems = []
        for s in herald:
            lost = sum(p["lost"] for p in s["phases"])
            doubled = sum(p["doubled"] for p in s["phases"])
            failed = s.get("connect_failed", 0) + sum(p["disconnects"] for p in s["phases"])
            problems.append(f"{s['async_mode']}: lost {lost}, doubled {doubled}, failed/dropped sockets {failed}")
        targets.append(
            {
                "target": f"zero loss and doubles at {top} sockets (Herald's pusher)",
                "measured": "; ".join(problems),
                "met": all(p.endswith("lost 0, doubled 0, failed/dropped sockets 0") for p in problems)
                and bool(herald),
            }
        )
        for s in herald:
            bare = next((b for b in at_top if b["server"] == "bare" and b["async_mode"] == s["async_mode"]), None)
            if bare is None:
                continue
            floor = _bursts(bare)
            # A burst of one event to every user, as each side publishes it: Herald's fan-out sends a message per
            # chunk of recipients (batch rounds); the bare library can only send one per user (burst rounds).
            mine = _bursts(s, "batch") if _bursts(s, "batch")["deliveries_per_s_median"] else _bursts(s)
            targets.append(
                {
                    "target": f"[{s['async_mode']}] burst deliveries/s >= bare Flask-SocketIO ({top} sockets)",
                    "measured": _versus(mine, floor) + " (Herald as its fan-out publishes: a message per chunk)",
                    "met": bool(mine["deliveries_per_s_median"] and floor["deliveries_per_s_median"])
                    and mine["deliveries_per_s_median"] >= floor["deliveries_per_s_median"],
                }
            )
            targets.append(
                {
                    "target": f"[{s['async_mode']}] for information: the same burst as one message per user",
                    "measured": _versus(_bursts(s), floor),
                    "met": None,
                }
            )
            targets.append(
                {
                    "target": f"[{s['async_mode']}] no more memory per socket than bare (5% noise allowance)",
                    "measured": f"Herald {s['kb_per_socket']} kB vs bare {bare['kb_per_socket']} kB per socket"
                    f" (RSS {s['rss_connected_mb']} vs {bare['rss_connected_mb']} MB with {s['sockets']} sockets)",
                    "met": s["kb_per_socket"] <= bare["kb_per_socket"] * 1.05,
                }
            )
            fast = _phase(s, "1000/s")
            p99 = fast.get("latency", {}).get("p99_ms")
            targets.append(
                {
                    "target": f"[{s['async_mode']}] p99 < 10 ms at 1,000 events/s with {top} sockets",
                    "measured": f"p99 {p99} ms (bare: {_phase(bare, '1000/s').get('latency', {}).get('p99_ms')} ms)",
                    "met": p99 is not None and p99 < 10,
                }
            )
        targets += _node_targets(at_top, herald, top)
    return targets


def _node_targets(at_top: list[dict], herald: list[dict], top: int) -> list[dict]:
    """Issue 13: Herald's pusher against the node peer (socket.io + @socket.io/redis-adapter), same sockets."""
    node = next((n for n in at_top if n["server"] == "node"), None)
    if node is None:
        return []
    peer = _bursts(node)
    node_fast = _phase(node, "1000/s")
    targets = []
    for s in herald:
        batch, burst = _bursts(s, "batch"), _bursts(s)
        # As each side publishes a burst: Herald's fan-out a message per chunk, node's emitter one per user.
        mine = batch if batch["deliveries_per_s_median"] else burst
        names = ("Herald", "node")
        targets.append(
            {
                "target": f"[{s['async_mode']}] burst deliveries/s >= node socket.io + Redis adapter ({top} sockets)",
                "measured": _versus(mine, peer, names=names) + " (Herald as its fan-out publishes: a message per chunk;"
                " node as @socket.io/redis-emitter does: a message per user)",
                "met": bool(mine["deliveries_per_s_median"] and peer["deliveries_per_s_median"])
                and mine["deliveries_per_s_median"] >= peer["deliveries_per_s_median"],
            }
        )
        targets.append(
            {
                "target": f"[{s['async_mode']}] for information: Herald fed one message per user, vs node",
                "measured": _versus(burst, peer, names=names),
                "met": None,
            }
        )
        fast = _phase(s, "1000/s")
        p99, node_p99 = fast.get("latency", {}).get("p99_ms"), node_fast.get("latency", {}).get("p99_ms")
        cpu, node_cpu = fast.get("server_cpu_pct"), node_fast.get("server_cpu_pct")
        targets.append(
            {
                "target": f"[{s['async_mode']}] for information: p99 at 1,000 events/s, memory and CPU, vs node",
                "measured": f"p99 {p99} vs {node_p99} ms; server CPU {cpu} vs {node_cpu} % of a core; RSS"
                f" {s['rss_connected_mb']} vs {node['rss_connected_mb']} MB with {s['sockets']} vs {node['sockets']}"
                f" sockets ({s['kb_per_socket']} vs {node['kb_per_socket']} kB per socket)",
                "met": None,
            }
        )
    return targets


def _versus(mine: dict, floor: dict, *, names: tuple[str, str] = ("Herald", "bare")) -> str:
    """Two servers' burst rounds side by side: medians, the spread of rounds, and CPU per delivery."""
    a, b = mine["deliveries_per_s_median"], floor["deliveries_per_s_median"]
    if not (a and b):
        return f"{names[0]} {a}/s vs {names[1]} {b}/s"
    return (
        f"{names[0]} {a}/s vs {names[1]} {b}/s ({100 * (a - b) / b:+.1f}%); rounds {mine['deliveries_per_s_range']} vs "
        f"{floor['deliveries_per_s_range']}/s; server CPU {mine['server_cpu_us_per_delivery_median']} vs "
        f"{floor['server_cpu_us_per_delivery_median']} us per delivery"
    )


def _row(cells: list, widths: list[int]) -> str:
    return "  ".join(
        str(c if c is not None else "-").rjust(w) if i else str(c).ljust(w)
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def _table(title: str, header: list[str], rows: list[list]) -> str:
    widths = [max(len(str(x if x is not None else "-")) for x in column) for column in zip(header, *rows, strict=True)]
    lines = [f"\n{title}", _row(header, widths), _row(["-" * w for w in widths], widths)]
    lines += [_row(r, widths) for r in rows]
    return "\n".join(lines)


def render(results: dict) -> str:
    machine = results.get("machine", {})
    parts = [
        f"Machine: {machine.get('cpus')} x {machine.get('cpu_model')}, Python yardstick "
        f"{machine.get('python_yardstick_ms')} ms (lower is faster); workers {results.get('workers')}\n"
    ]
    rows1, rows2, rows3 = [], [], []
    for db, suite in results.get("databases", {}).items():
        for e in suite.get("section1") or []:
            p = e["pipeline"]
            floor = min(e["bare_bulk_create"]["seconds"], e["bare_bulk_create_again"]["seconds"])
            rows1.append(
                [db, e["recipients"], e["sessions_live"], f"{floor:.2f}", f"{e['notify_send']['seconds']:.2f}"]
                + [f"{p['seconds']:.2f}", f"x{e['ratio_pipeline_to_bare']}", f"x{e['ratio_notify_to_bare']}"]
                + [p.get("first_chunk_seconds"), f"{p['rows_persisted']}/{p['sessions_published']}", p.get("status")]
            )
        s2 = suite.get("section2")
        if s2:
            for key in ("no_worker_one", "no_worker_everyone", "worker_one", "worker_everyone"):
                m = s2[key]
                rows2.append(
                    [db, key, s2["users_present"], m["n"], m["p50_ms"], m["p99_ms"], m["max_ms"], m["statuses"]]
                )
        s3 = suite.get("section3")
        if s3:
            for key in ("idle", "during_bulk"):
                m = s3.get(key)
                if m:
                    rows3.append(
                        [db, key, m["n"], m.get("p50_ms"), m.get("p99_ms"), m.get("max_ms"), m["request"].get("p99_ms")]
                        + [m["lost"], m["during_bulk"]]
                    )
    if rows1:
        parts.append(
            _table(
                "Section 1: bulk send to everyone (seconds; pipeline = enqueue -> every row stored and published)",
                ["db", "N", "sessions", "bare", "notify.send", "pipeline", "pipe/bare", "notify/bare"]
                + ["1st chunk", "rows/publ.", "status"],
                rows1,
            )
        )
    if rows2:
        parts.append(
            _table(
                "Section 2: POST /notifications/send/ latency (ms)",
                ["db", "case", "users", "n", "p50", "p99", "max", "statuses"],
                rows2,
            )
        )
    if rows3:
        parts.append(
            _table(
                "Section 3: interactive end to end, request start -> socket event (ms)",
                ["db", "case", "n", "p50", "p99", "max", "req p99", "lost", "overlapped bulk"],
                rows3,
            )
        )
    rows4 = []
    for s in results.get("section4") or []:
        slow, fast, burst = _phase(s, "200/s"), _phase(s, "1000/s"), _bursts(s)
        lost = sum(p["lost"] for p in s.get("phases", []))
        doubled = sum(p["doubled"] for p in s.get("phases", []))
        rows4.append(
            [f"{s['server']}/{s['async_mode']}", s.get("sockets"), slow.get("latency", {}).get("p50_ms")]
            + [slow.get("latency", {}).get("p99_ms"), fast.get("latency", {}).get("p50_ms")]
            + [fast.get("latency", {}).get("p99_ms"), fast.get("latency", {}).get("max_ms")]
            + [burst["deliveries_per_s_median"], burst["p99_ms_worst"], f"{lost}/{doubled}"]
            + [_bursts(s, "batch")["deliveries_per_s_median"], _bursts(s, "batch")["p99_ms_worst"]]
            + [fast.get("server_cpu_pct"), fast.get("clients_cpu_pct"), s.get("rss_connected_mb")]
            + [s.get("kb_per_socket"), _pauses(fast)]
        )
    if rows4:
        parts.append(
            _table(
                "Section 4: delivery to sockets (ms; burst = one event to every user, batch = the same in chunk"
                " messages; CPU in % of one core at 1,000/s)",
                ["server", "sockets", "200/s p50", "200/s p99", "1k/s p50", "1k/s p99", "1k/s max", "burst del/s"]
                + ["burst p99", "lost/dup", "batch del/s", "batch p99", "srv CPU%", "cli CPU%", "RSS MB", "kB/socket"]
                + ["1k/s gen2 GC"],
                rows4,
            )
        )
    servers = results.get("section4") or []
    if any(s["server"] == "node" for s in servers):
        top = max(s["sockets_wanted"] for s in servers)
        rows = []
        for s in servers:
            if s["sockets_wanted"] != top or s["server"] not in ("herald", "node"):
                continue
            burst, batch, fast = _bursts(s), _bursts(s, "batch"), _phase(s, "1000/s")
            rows.append(
                [f"{s['server']}/{s['async_mode']}", s.get("sockets"), fast.get("latency", {}).get("p99_ms")]
                + [burst["deliveries_per_s_median"], burst["deliveries_per_s_range"]]
                + [batch["deliveries_per_s_median"], batch["deliveries_per_s_range"]]
                + [burst["server_cpu_us_per_delivery_median"], batch["server_cpu_us_per_delivery_median"]]
                + [fast.get("server_cpu_pct"), s.get("rss_connected_mb"), s.get("kb_per_socket")]
            )
        parts.append(
            _table(
                f"Section 4, issue 13: Herald's pusher vs the node peer at {top} sockets (burst: a message per user;"
                " batch: Herald's chunk messages; CPU us per delivery, medians of the rounds)",
                ["server", "sockets", "1k/s p99", "burst del/s", "burst rounds", "batch del/s", "batch rounds"]
                + ["CPU us burst", "CPU us batch", "srv CPU% 1k/s", "RSS MB", "kB/socket"],
                rows,
            )
        )
    targets = results.get("targets") or []
    if targets:
        parts.append("\nTargets of issues 6 and 13")
        for t in targets:
            verdict = "INFO" if t["met"] is None else "MET" if t["met"] else "NOT MET"
            parts.append(f"  [{verdict}] {t['target']}: {t['measured']}")
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 and 10,000 recipients; 1,000 sockets; 5 s phases")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--sections", default="1,2,3,4")
    parser.add_argument("--profile", action="store_true", help="py-spy the worker (section 1) and pusher (section 4)")
    parser.add_argument(
        "--workers",
        default="1,1",
        help="Celery concurrency of the interactive and the bulk worker (default 1,1: on 2 cores, one bulk process"
        " leaves a core to the web and interactive work; see docs/benchmark.md)",
    )
    parser.add_argument("--bulk-nice", type=int, default=0, help="run the bulk worker under `nice -n N` (default 0)")
    parser.add_argument("--sizes", default="", help="override section 1's recipient counts, e.g. 5000,20000")
    parser.add_argument("--sockets", default="", help="override section 4's socket counts, e.g. 1000,4000")
    parser.add_argument(
        "--servers", default="", help="section 4's servers, e.g. herald:eventlet,bare:eventlet,herald+gc.log:gevent"
    )
    parser.add_argument(
        "--without-session-expiry", action="store_true", help="section 4 tokens without the session's expiry"
    )
    parser.add_argument(
        "--throughput", default="", help="also run bench.throughput at these rates last, e.g. 50,100,200,300"
    )
    parser.add_argument(
        "--retention", type=int, default=0, help="also run bench.retention on this many notifications, e.g. 1000000"
    )
    args = parser.parse_args()
    common.install_signal_handlers()
    sections = {int(s) for s in args.sections.split(",") if s.strip()}
    nofile = common.raise_nofile_limit()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_id = f"{stamp.lower()}-{common.os.getpid()}"
    env = common.new_run_env(run_id)
    env["BENCH_WORKERS"] = args.workers
    env["BENCH_BULK_NICE"] = str(args.bulk_nice)
    common.check_env_is_safe(env)
    work = common.run_dir(run_id)
    mode = "quick" if args.quick else "full"
    results: dict = {
        "run": run_id,
        "mode": mode,
        "workers": args.workers,
        "started": stamp,
        "machine": common.machine_info() | {"open_files_limit": nofile, "note": "2 cores, noisy neighbours"},
        "git": _git(),
        "versions": _versions(),
        "databases": {},
    }
    flags = ["--quick"] if args.quick else []
    flags += ["--profile"] if args.profile else []
    started = time.monotonic()
    try:
        common.redis_client(env).ping()
        dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
        db_sections = sorted(sections & {1, 2, 3})
        for db in dbs if db_sections else []:
            print(f"== sections {','.join(map(str, db_sections))} on {db}", flush=True)
            out = work / f"{db}.json"
            child = ["bench.dbsuite", "--db", db, "--out", str(out), "--sections", ",".join(map(str, db_sections))]
            child += ["--sizes", args.sizes] if args.sizes else []
            code = run_child(child + flags, env, timeout=TIMEOUTS[mode]["db"])
            results["databases"][db] = json.loads(out.read_text()) if out.exists() else {}
            results["databases"][db]["exit_code"] = code
        if 4 in sections:
            print("== section 4: sockets", flush=True)
            out = work / "sockets.json"
            child = ["bench.socketsuite", "--out", str(out)] + (["--sockets", args.sockets] if args.sockets else [])
            child += ["--servers", args.servers] if args.servers else []
            child += ["--without-session-expiry"] if args.without_session_expiry else []
            code = run_child(child + flags, env, timeout=TIMEOUTS[mode]["sockets"])
            data = json.loads(out.read_text()) if out.exists() else {}
            results["section4"] = data.get("section4", [])
            results["section4_phase_seconds"] = data.get("phase_seconds")
            results["section4_exit_code"] = code
        if args.throughput:  # issue 13: optional, last (bench/throughput.py)
            print("== interactive throughput", flush=True)
            out = work / "throughput.json"
            child = ["bench.throughput", "--rates", args.throughput, "--out", str(out)]
            child += ["--db", "sqlite" if args.db == "sqlite" else "postgres"]
            child += ["--seconds", "10", "--sockets", "500"] if args.quick else []
            code = run_child(child + (["--profile"] if args.profile else []), env, timeout=TIMEOUTS[mode]["db"])
            results["throughput"] = json.loads(out.read_text()) if out.exists() else {}
            results["throughput"]["exit_code"] = code
        if args.retention:  # issue 14: optional, last (bench/retention.py, PostgreSQL)
            print("== retention", flush=True)
            out = work / "retention.json"
            code = run_child(
                ["bench.retention", "--rows", str(args.retention), "--out", str(out)], env, timeout=TIMEOUTS[mode]["db"]
            )
            results["retention"] = json.loads(out.read_text()) if out.exists() else {}
            results["retention"]["exit_code"] = code
    except KeyboardInterrupt:
        results["interrupted"] = True
        print("interrupted", file=sys.stderr)
    finally:
        leftovers = common.stop_recorded(run_id)
        if leftovers:
            print(f"  ! stopped {leftovers} leftover process group(s)", file=sys.stderr)
        try:
            results["broker_keys_left_and_deleted"] = common.purge_broker_keys(env)
        except Exception as exc:  # noqa: BLE001 - reported, the results still get written
            print(f"  ! could not purge the bench's Redis keys: {exc}", file=sys.stderr)
    results["seconds"] = round(time.monotonic() - started, 1)
    path = RESULTS / f"{stamp}{'-quick' if args.quick else ''}{'-profile' if args.profile else ''}.json"
    common.write_json(path, results)  # first: a bug in what follows must not lose the measurements
    try:
        results["targets"] = evaluate(results)
        common.write_json(path, results)
        print(render(results))
        if results.get("retention"):
            print(retention.render(results["retention"]))
    except Exception as exc:  # noqa: BLE001 - the JSON is there; say what failed
        print(f"  ! could not summarise: {exc!r}", file=sys.stderr)
    print(f"\nresults: {path.relative_to(common.ROOT)}  ({results['seconds']}s)")
    failed = [db for db, suite in results["databases"].items() if suite.get("exit_code")]
    failed += ["section 4"] if results.get("section4_exit_code") else []
    failed += ["retention"] if results.get("retention", {}).get("exit_code") else []
    if failed:
        print(f"  ! incomplete: {', '.join(failed)} ended with an error (see var/bench/{run_id}/)", file=sys.stderr)
    return 1 if results.get("interrupted") or failed else 0


if __name__ == "__main__":
    sys.exit(main())

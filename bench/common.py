"""What every part of the benchmark shares: its environment, its processes, /proc readings, percentiles.

Everything the bench starts is a ``Service`` in a session (process group) of its own, recorded in
``var/bench/<run>/pids`` so that a parent can still stop it if the child that started it died.
Nothing here touches Redis database 0 or any database but the bench's own.
"""

from __future__ import annotations

import json
import math
import os
import resource
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# One copy of these two helpers serves the tests and the bench.
from tests.support import processes
from tests.support.processes import free_port, live_group_members, wait_until  # noqa: F401 - re-exported for the suites

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

# Redis database of the bench's own: never 0 (development), never 13 (tests).
BENCH_REDIS_DB = 14
BENCH_PG_DB = "herald_bench"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# Variables the bench sets itself; inherited values are dropped so that nothing points at db 0 or `test`.
_OWNED_PREFIXES = ("HERALD_", "DJANGO_", "CELERY_")
_OWNED_NAMES = ("DATABASE_URL", "REDIS_URL")


def raise_nofile_limit() -> int:
    """Soft limit of open files up to the hard limit; children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def run_env(stamp: str) -> tuple[str, dict[str, str]]:
    """(run id, environment): inside bench.run the run's, which is there already; alone, a new one."""
    if os.environ.get("HERALD_BENCH_RUN"):
        return os.environ["HERALD_BENCH_RUN"], dict(os.environ)
    run_id = f"{stamp.lower()}-{os.getpid()}"
    return run_id, new_run_env(run_id)


def new_run_env(run_id: str) -> dict[str, str]:
    """The environment of every process of one run: its own Redis db, prefixes and secrets."""
    env = {k: v for k, v in os.environ.items() if not (k.startswith(_OWNED_PREFIXES) or k in _OWNED_NAMES)}
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        PYTHONWARNINGS="ignore",
        DJANGO_SETTINGS_MODULE="web.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(48),
        HERALD_TOKEN_SECRET=secrets.token_urlsafe(48),
        REDIS_URL=f"redis://127.0.0.1:6379/{BENCH_REDIS_DB}",
        HERALD_CHANNEL_PREFIX=f"herald-bench-{run_id}",
        HERALD_BROKER_KEY_PREFIX=f"herald-bench-{run_id}:",
        HERALD_LOG_LEVEL="INFO",
        HERALD_BENCH_RUN=run_id,
        # The bench reads /proc, not Prometheus: no metrics listeners, whose fixed ports could clash.
        HERALD_METRICS_PORT="0",
        HERALD_PUSHER_METRICS_PORT="0",
        # Placeholder until a suite picks its database: never the development or test database.
        DATABASE_URL=f"sqlite:///{VAR / run_id / 'placeholder.sqlite3'}",
    )
    return env


def check_env_is_safe(env: dict[str, str]) -> None:
    """Refuses to run against Redis db 0/13 or a database the bench does not own."""
    if not env["REDIS_URL"].endswith(f"/{BENCH_REDIS_DB}"):
        raise SystemExit(f"refusing REDIS_URL {env['REDIS_URL']}: the bench uses db {BENCH_REDIS_DB} only")
    if "CELERY_BROKER_URL" in env:
        raise SystemExit("refusing an inherited CELERY_BROKER_URL")
    url = env["DATABASE_URL"]
    if url.startswith("postgres") and not url.endswith(f"/{BENCH_PG_DB}"):
        raise SystemExit(f"refusing DATABASE_URL {url}: the bench uses the database {BENCH_PG_DB} only")
    if url.startswith("sqlite") and str(VAR) not in url:
        raise SystemExit(f"refusing DATABASE_URL {url}: the bench's SQLite files live under {VAR}")


def run_dir(run_id: str) -> Path:
    path = VAR / run_id
    (path / "logs").mkdir(parents=True, exist_ok=True)
    return path


# --- processes ------------------------------------------------------------------------------------


def _record_pid(pid: int) -> None:
    run_id = os.environ.get("HERALD_BENCH_RUN")
    if run_id:
        with (run_dir(run_id) / "pids").open("a") as out:
            out.write(f"{pid}\n")


@dataclass
class Service(processes.Service):
    """The tests' Service, plus what the bench needs: optional pipes (load clients), every process group
    recorded for the parent's last-resort clean-up, and stop() signalling the whole group."""

    pipes: bool = False  # stdin/stdout pipes for a controlled child (load clients)

    def start(self) -> Service:
        if self.pipes:
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    self.args,
                    cwd=ROOT,
                    env=self.env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    start_new_session=True,
                    text=True,
                    bufsize=1,
                )
        else:
            super().start()
        _record_pid(self.process.pid)
        _LIVE.append(self)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_for_log(self, text: str, *, timeout: float = 60, after: int = 0) -> None:
        super().wait_for_log(text, timeout=timeout, after=after)

    def wait_for_http(self, url: str, *, timeout: float = 60) -> None:
        super().wait_for_http(url, timeout=timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        """Stops the whole process group and waits until no member is left."""
        if self.process is None:
            return
        stop_group(self.process.pid, sig=sig, timeout=timeout)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self in _LIVE:
            _LIVE.remove(self)

    def kill(self) -> None:
        self.stop(sig=signal.SIGKILL, timeout=5)


_LIVE: list[Service] = []


def stop_all() -> None:
    for service in list(reversed(_LIVE)):
        try:
            service.stop(timeout=10)
        except Exception as exc:  # noqa: BLE001 - keep stopping the others
            print(f"  ! could not stop {service.name}: {exc}", file=sys.stderr)


def stop_group(group: int, *, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while live_group_members(group) and time.monotonic() < deadline:
        time.sleep(0.1)
    if live_group_members(group):
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while live_group_members(group) and time.monotonic() < deadline:
            time.sleep(0.1)


def stop_recorded(run_id: str) -> int:
    """Stops every process group a run recorded (the parent's last resort); returns how many were alive."""
    path = VAR / run_id / "pids"
    if not path.exists():
        return 0
    alive = 0
    for line in path.read_text().split():
        group = int(line)
        if live_group_members(group):
            alive += 1
            stop_group(group, sig=signal.SIGKILL, timeout=5)
    return alive


def install_signal_handlers() -> None:
    """SIGTERM (and SIGINT even when started in the background) unwind through ``finally`` blocks."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


# --- /proc ------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process, in seconds (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def group_cpu_seconds(group: int) -> float:
    return sum(cpu_seconds(pid) for pid in live_group_members(group))


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB."""
    out = {"rss_kb": 0, "hwm_kb": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss_kb"] = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                out["hwm_kb"] = int(line.split()[1])
    except OSError:
        pass
    return out


def pids_named(name: str) -> list[int]:
    """Processes whose command name is ``name`` (e.g. the PostgreSQL and Redis servers)."""
    found = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == name:
                found.append(int(comm.parent.name))
        except OSError:
            continue
    return found


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def machine_info() -> dict:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "loadavg_at_start": loadavg(),
        "python_yardstick_ms": python_yardstick_ms(),
    }


def python_yardstick_ms(rounds: int = 5) -> float:
    """The fastest of a few runs of a fixed pure-Python workload, in ms: how fast this machine is now.

    The machine is shared, and its speed moved by 2.5x between two days of runs. Latency targets in
    milliseconds only compare across runs next to this figure (or the bare bulk_create's time).
    """
    sample = {"id": 12345, "verb": "shipped", "rooms": [f"session:{i:064x}" for i in range(8)], "unread": True}
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(20_000):
            json.loads(json.dumps(sample))
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


# --- numbers ---------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict:
    """p50/p90/p99/max in milliseconds of durations given in seconds."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(sum(ms) / len(ms), 2),
    }


# --- Redis (db 14 only) --------------------------------------------------------------------------------


def redis_client(env: dict[str, str]):
    import redis

    check_env_is_safe(env)
    return redis.Redis.from_url(env["REDIS_URL"], socket_connect_timeout=2, socket_timeout=10)


def purge_broker_keys(env: dict[str, str]) -> int:
    """Deletes every key under this run's broker prefix, in the bench's Redis database only."""
    client = redis_client(env)
    prefix = env["HERALD_BROKER_KEY_PREFIX"]
    assert prefix.startswith("herald-bench-")
    deleted = 0
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        deleted += client.delete(key)
    client.close()
    return deleted


def pubsub_backlog_kb(client) -> int:
    """Largest output buffer (omem) among subscribers on the bench's database: a slow pusher shows here."""
    worst = 0
    for entry in client.client_list(_type="pubsub"):
        if str(entry.get("db")) == str(BENCH_REDIS_DB):
            worst = max(worst, int(entry.get("omem", 0)))
    return worst // 1024


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")

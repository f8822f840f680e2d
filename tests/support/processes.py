"""Starting and stopping the real processes the tests need: workers, pushers, the web server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "var" / "test-logs"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Service:
    name: str
    args: list[str]
    env: dict[str, str]
    log_dir: Path | None = None  # default: var/test-logs, the file named after this test run too
    process: subprocess.Popen | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        if self.log_dir is None:
            LOGS.mkdir(parents=True, exist_ok=True)
            self.log_path = LOGS / f"{self.name}-{os.getpid()}.log"
        else:
            self.log_path = self.log_dir / f"{self.name}.log"

    def start(self) -> Service:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, *, timeout: float = 30, after: int = 0) -> None:
        def seen() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            return text in self.log()[after:]

        wait_until(seen, timeout=timeout, what=f"{text!r} in the {self.name} log")

    def wait_for_http(self, url: str, *, timeout: float = 30) -> None:
        def answers() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            try:
                return requests.get(url, timeout=1).status_code < 500
            except requests.RequestException:
                return False

        wait_until(answers, timeout=timeout, what=f"{url} to answer")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        """Stops the process and waits until its whole group is gone.

        SIGTERM goes to the main process only, as systemd (KillMode=mixed) and docker stop
        send it: a Celery worker then finishes and acknowledges its task (warm shutdown).
        SIGKILL goes to the whole group, like a crash of the machine.
        """
        if self.process is None:
            return
        group = self.process.pid
        if sig == signal.SIGKILL:
            _signal_group(group, sig)
        elif self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(group, signal.SIGKILL)
            self.process.wait(timeout=5)
        try:
            wait_until(lambda: not live_group_members(group), timeout=timeout, what=f"{self.name}'s processes to exit")
        except AssertionError:
            _signal_group(group, signal.SIGKILL)
            wait_until(lambda: not live_group_members(group), timeout=5, what=f"{self.name}'s processes to die")


def _signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        pass


def live_group_members(group: int) -> list[int]:
    """Processes of the group that still run (zombies waiting for a reaper do not count)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state != "Z":
            members.append(int(stat.parent.name))
    return members


def base_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "tests.settings"}
    # No metrics listener on the default port (9101): runs and processes would fight over it. Tests of the
    # listener give it a free port.
    env["HERALD_METRICS_PORT"] = "0"
    env.update(extra)
    return env


def worker(
    env: dict[str, str], *, name: str = "worker", queues: str = "herald.interactive,herald.bulk,herald.push"
) -> Service:
    args = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--pool", "prefork"]
    args += ["--concurrency", "2", "-Q", queues, "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    args += ["--hostname", f"{name}-{os.getpid()}@%h"]
    return Service(name, args, env)


def pusher(env: dict[str, str], *, port: int, async_mode: str, name: str = "pusher") -> Service:
    metrics_port = free_port()
    env = {
        **env,
        "HERALD_PUSHER_PORT": str(port),
        "HERALD_PUSHER_ASYNC_MODE": async_mode,
        "HERALD_PUSHER_METRICS_PORT": str(metrics_port),
    }
    service = Service(f"{name}-{async_mode}-{port}", [sys.executable, "-m", "herald_live.pusher"], env)
    service.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    return service


def web(env: dict[str, str], *, port: int) -> Service:
    args = [sys.executable, str(ROOT / "manage.py"), "runserver", "--noreload", "--insecure", f"127.0.0.1:{port}"]
    return Service(f"web-{port}", args, env)


def gunicorn_web(env: dict[str, str], *, port: int, workers: int = 1) -> Service:
    """The web as production runs it (no static files, no start-up checks against the database)."""
    args = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "web" / "gunicorn.conf.py"), "web.wsgi:application"]
    args += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    return Service(f"gunicorn-{port}", args, env)


def redis_server(*, port: int, data_dir: Path) -> Service:
    """A Redis of the test's own, persisting to an append-only file, for restart and outage tests."""
    data_dir.mkdir(parents=True, exist_ok=True)
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir), "--save", ""]
    args += ["--appendonly", "yes", "--appendfsync", "always"]
    return Service(f"redis-{port}", args, dict(os.environ))


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False

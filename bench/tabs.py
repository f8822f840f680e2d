"""One connection per browser, measured: ``PYTHONPATH=. .venv/bin/python -m bench.tabs [--users 20] [--tabs 3]``.

It starts the reference site's processes (Django's runserver, which serves the widget's static files, a Celery
worker and the pusher) on a fresh SQLite database under var/bench/<run>/ and Redis database 14, logs N users in,
each in a Chromium context of its own (one browser: one cookie jar, one origin's Web Locks) with T tabs, and
counts the sockets: at the pusher (its ``herald_pusher_sockets`` gauge) and in the browser (the socket.io
websockets each tab opened). Then it closes each user's leader tab and times the hand-over (until another tab of
that browser holds the socket and every remaining tab is live again), checks that one send to everyone shows
exactly once in every tab, and counts again with Web Locks removed (the fallback: a socket per tab).
It prints the result as JSON and writes it to bench/results/<timestamp>-tabs.json. See docs/benchmark.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import time
from datetime import UTC, datetime

import requests

from bench import common, dbsuite

NO_WEB_LOCKS = "delete Navigator.prototype.locks;"  # as tests/system/test_tabs.py
PASSWORD = secrets.token_urlsafe(16)
RESULTS = common.ROOT / "bench" / "results"


class Site:
    """The web, a worker and the pusher of this run, on free ports."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.log_dir = common.run_dir(env["HERALD_BENCH_RUN"]) / "logs"
        self.web_url = env["BENCH_WEB_URL"]
        self.pusher_url = env["HERALD_PUSHER_URL"]
        self.metrics_url = f"http://127.0.0.1:{env['HERALD_PUSHER_METRICS_PORT']}/metrics"

    def start(self) -> None:
        pusher = common.Service("tabs-pusher", [common.PY, "-m", "herald_live.pusher"], self.env, self.log_dir)
        pusher.start().wait_for_http(f"{self.pusher_url}/healthz")
        args = [common.PY, "-m", "celery", "-A", "workers.celery_app", "worker", "--pool", "prefork"]
        args += ["--concurrency", "1", "-Q", "herald.interactive,herald.bulk", "--loglevel", "INFO"]
        args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        args += ["--hostname", f"bench-tabs-{self.env['HERALD_BENCH_RUN']}@%h"]
        common.Service("tabs-worker", args, self.env, self.log_dir).start().wait_for_log("ready.", timeout=90)
        port = self.web_url.rsplit(":", 1)[1]
        # runserver --insecure serves herald.js and socket.io from the app's static folder, as the tests do.
        args = [common.PY, str(common.ROOT / "manage.py"), "runserver", "--noreload", "--insecure", f"127.0.0.1:{port}"]
        common.Service("tabs-web", args, self.env, self.log_dir).start().wait_for_http(
            f"{self.web_url}/accounts/login/"
        )

    def pusher_sockets(self) -> int:
        from tests.support.metrics import metric

        return int(metric(requests.get(self.metrics_url, timeout=5).text, "herald_pusher_sockets"))

    def wait_for_sockets(self, count: int, *, timeout: float = 30) -> int:
        """The gauge once it reads ``count`` (sockets of closed tabs take a moment to go); its last reading if not."""
        deadline = time.monotonic() + timeout
        while (seen := self.pusher_sockets()) != count and time.monotonic() < deadline:
            time.sleep(0.2)
        return seen


def make_users(count: int, prefix: str) -> list:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    user_model = get_user_model()
    password = make_password(PASSWORD)
    names = [f"{prefix}-{i:04d}" for i in range(count)]
    user_model.objects.bulk_create([user_model(username=name, password=password) for name in names])
    users = list(user_model.objects.filter(username__in=names).order_by("username"))
    for user in users:
        user.raw_password = PASSWORD
    return users


def open_browsers(browser, site: Site, users: list, *, tabs: int, init_script: str | None = None) -> list:
    from tests.support.widget import BrowserTabs

    opened = []
    for user in users:
        tabbed = BrowserTabs(browser, site.web_url, init_script=init_script)
        opened.append(tabbed)
        tabbed.log_in(user)
        for _ in range(tabs - 1):
            tabbed.new_tab()
    for tabbed in opened:
        tabbed.expect_live(timeout=60_000)
    return opened


def roles(tabbed) -> list[str]:
    return sorted(page.locator("#herald-root").get_attribute("data-herald-socket") or "" for page in tabbed.tabs)


def sockets_per_user(site: Site, opened: list, *, expected_total: int) -> dict:
    per_user = [tabbed.open_sockets() for tabbed in opened]
    at_pusher = site.wait_for_sockets(expected_total)
    return {
        "users": len(opened),
        "tabs_per_user": len(opened[0].tabs) if opened else 0,
        "pusher_sockets": at_pusher,
        "sockets_per_user": round(at_pusher / len(opened), 2) if opened else None,
        "browser_websockets_per_user": {"min": min(per_user), "max": max(per_user), "total": sum(per_user)},
        "roles": sorted({",".join(roles(tabbed)) for tabbed in opened}),
    }


def shown_once(opened: list, verb: str) -> dict:
    """How many tabs show the notification exactly once (after it has arrived in each)."""
    from playwright.sync_api import expect

    from tests.support.widget import Widget

    tabs = once = 0
    for tabbed in opened:
        for page in tabbed.tabs:
            tabs += 1
            widget = Widget(page)
            try:
                expect(widget.item(verb)).not_to_have_count(0, timeout=30_000)
            except AssertionError:
                continue
            ids = widget.ids()
            once += widget.item(verb).count() == 1 and len(ids) == len(set(ids))
    return {"tabs": tabs, "shown_exactly_once": once}


STATE = "() => ['heraldSocket', 'heraldState'].map((key) => document.getElementById('herald-root').dataset[key])"


def hand_over(tabbed) -> float | None:
    """Closes the tab that holds the socket; seconds until another holds it and every remaining tab is live."""
    leaders = [page for page in tabbed.tabs if page.evaluate(STATE)[0] == "leader"]
    if len(leaders) != 1:
        return None
    started = time.monotonic()
    leaders[0].close()
    while time.monotonic() < started + 30:
        states = [page.evaluate(STATE) for page in tabbed.tabs]
        taken = [role for role, _ in states].count("leader") == 1 and all(state == "live" for _, state in states)
        if taken and tabbed.open_sockets() == 1:
            return time.monotonic() - started
        time.sleep(0.02)
    return None


def run(args: argparse.Namespace, env: dict[str, str]) -> dict:
    import django

    django.setup()
    # The services log every send at INFO; what this bench prints is its JSON.
    logging.getLogger("herald_live").setLevel(logging.WARNING)
    from herald_live import producers
    from tests.support.browser import chromium

    site = Site(env)
    result: dict = {"machine": common.machine_info(), "users": args.users, "tabs_per_user": args.tabs}
    users = make_users(args.users, "tabs")
    fallback_users = make_users(args.fallback_users, "tabs-own")
    site.start()
    with chromium() as browser:
        opened = open_browsers(browser, site, users, tabs=args.tabs)
        result["shared"] = sockets_per_user(site, opened, expected_total=len(opened))
        producers.notify(recipients=users, verb="bench: before the hand-over")
        result["shared"]["delivery"] = shown_once(opened, "bench: before the hand-over")

        times = [hand_over(tabbed) for tabbed in opened[: args.handovers]]
        measured = [t for t in times if t is not None]
        result["hand_over"] = {
            "closed_leaders": len(times),
            "taken_over": len(measured),
            **common.summary_ms(measured),
            "sockets_per_user_after": round(site.wait_for_sockets(len(opened)) / len(opened), 2),
        }
        producers.notify(recipients=users, verb="bench: after the hand-over")
        result["hand_over"]["delivery"] = shown_once(opened, "bench: after the hand-over")
        for tabbed in opened:
            tabbed.close()
        site.wait_for_sockets(0)

        if fallback_users:
            own = open_browsers(browser, site, fallback_users, tabs=args.tabs, init_script=NO_WEB_LOCKS)
            result["without_web_locks"] = sockets_per_user(site, own, expected_total=len(own) * args.tabs)
            for tabbed in own:
                tabbed.close()
    result["loadavg_at_end"] = common.loadavg()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--tabs", type=int, default=3)
    parser.add_argument("--handovers", type=int, default=20, help="close the leader tab of this many users")
    parser.add_argument("--fallback-users", type=int, default=5, help="users measured again without Web Locks")
    args = parser.parse_args()
    if args.users < 1 or args.tabs < 2:
        parser.error("--users must be at least 1 and --tabs at least 2")
    common.install_signal_handlers()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_id = f"tabs-{stamp}"
    env = common.new_run_env(run_id)
    web_port, pusher_port, metrics_port = common.free_port(), common.free_port(), common.free_port()
    env.update(
        BENCH_WEB_URL=f"http://127.0.0.1:{web_port}",
        HERALD_PUSHER_PORT=str(pusher_port),
        HERALD_PUSHER_URL=f"http://127.0.0.1:{pusher_port}",
        HERALD_PUSHER_ASYNC_MODE="eventlet",
        HERALD_PUSHER_METRICS_PORT=str(metrics_port),
        HERALD_ALLOWED_ORIGINS=f"http://127.0.0.1:{web_port}",
        DATABASE_URL=f"sqlite:///{common.run_dir(run_id) / 'herald-bench.sqlite3'}",
    )
    common.check_env_is_safe(env)
    os.environ.update(env)
    result: dict = {}
    try:
        dbsuite.migrate(env)
        result = run(args, env)
    finally:
        common.stop_all()
        from django.db import connections

        connections.close_all()
        common.purge_broker_keys(env)
        database = common.Path(env["DATABASE_URL"].removeprefix("sqlite:///"))
        for suffix in ("", "-journal", "-wal", "-shm"):
            database.with_name(database.name + suffix).unlink(missing_ok=True)
    common.write_json(RESULTS / f"{stamp}-tabs.json", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

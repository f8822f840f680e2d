"""docs/integrate.md, followed literally on a brand-new site, works live in a real browser.

The test builds the wheel, installs it with its ``pusher`` extra in a fresh virtualenv, makes a new project with
``django-admin startproject mysite`` and the site's own pages (tests/docs/host_site.py: its own base template, no
Bootstrap), then applies every step of docs/integrate.md in order (tests/docs/doc_steps.py describes the
``<!-- step: ... -->`` and ``<!-- process: ... -->`` markers), and starts the three processes with the page's own
commands: the site's runserver, a worker of the site's own Celery app, and the installed ``herald-pusher``.

In Chromium: two sessions of alice and one of bob. A ``notify.send`` from the site's own management command
reaches both of alice's sessions live and not bob's; django-notifications' stock "mark as read" and "mark all as
read" URLs, posted from one session, update the other live.

The new site has its own SQLite file, Redis database 13 with a channel and broker-key prefix of its own, and
ports of its own; every process it starts is stopped, and its Redis keys removed.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Page, expect

from herald_live.conf import DEFAULTS
from tests.docs import doc_steps, host_site
from tests.support.browser import chromium
from tests.support.processes import ROOT, Service, free_port

DOC = ROOT / "docs" / "integrate.md"
PROJECT = host_site.PROJECT
PASSWORD = "correct horse battery staple"
# Nothing generic may land in site-packages (the issue): only herald_live and its dist-info.
FORBIDDEN_TOP_LEVEL = ("web", "workers", "pusher", "wire", "envvars", "tests", "bench", "scripts")
# Not part of the source tree the wheel is built from (see build_wheel).
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "var", "build", "dist", "__pycache__", "*.egg-info", ".pytest_cache",
    ".ruff_cache", "test-results",
)  # fmt: skip
LIVE = 15_000  # ms: generous for a loaded machine; delivery itself takes well under a second

# The widget, as herald_live/templates/herald/bell.html renders it; nothing else of the page is assumed.
STATE = "#herald-root"  # data-herald-state: offline | reconnecting | live
BELL = "#herald-bell"
BADGE = "#herald-bell .herald-badge"  # data-herald-count, and the count as text
UNREAD_ITEMS = "#herald-tabpanel-unread .herald-list .herald-item"


@dataclass
class SiteService(Service):
    """A process of the new site: it runs in the project's directory, not the repository's."""

    cwd: Path | None = None

    def start(self) -> SiteService:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.args, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return self


def test_the_settings_table_lists_every_herald_setting_with_its_default():
    text = DOC.read_text()
    rows = dict(re.findall(r"^\| `HERALD_([A-Z_]+)` \| ([^|]+?) \|", text, flags=re.MULTILINE))
    assert set(rows) == set(DEFAULTS), "docs/integrate.md's settings table and herald_live/conf.py differ"
    for name, default in DEFAULTS.items():
        if default is None:
            continue
        documented = rows[name].strip("` ")
        expected = f'"{default}"' if isinstance(default, str) else str(default)
        assert documented == expected, f"HERALD_{name}: the doc says {documented}, herald_live/conf.py {expected}"


def test_a_step_the_project_no_longer_matches_fails_instead_of_being_skipped(tmp_path):
    """The guard against drift: steps apply exactly, or the test fails naming the step."""
    (tmp_path / "settings.py").write_text("INSTALLED_APPS = [\n    'a',\n]\n")
    page = "<!-- step: edit settings.py -->\n```diff\n INSTALLED_APPS = [\n-    'b',\n+    'c',\n ]\n```\n"
    (step,) = doc_steps.read_steps(page)
    with pytest.raises(doc_steps.StepError, match="matched 0 times"):
        doc_steps.edit(tmp_path, step)
    (step,) = doc_steps.read_steps(page.replace("'b'", "'a'"))
    doc_steps.edit(tmp_path, step)
    assert (tmp_path / "settings.py").read_text() == "INSTALLED_APPS = [\n    'c',\n]\n"
    with pytest.raises(doc_steps.StepError, match="not followed by a fenced code block"):
        doc_steps.read_steps("<!-- step: shell -->\nrun this\n")
    with pytest.raises(doc_steps.StepError, match="unknown step kind"):
        doc_steps.read_steps("<!-- step: patch x -->\n```\nx\n```\n")
    with pytest.raises(doc_steps.StepError, match="already exists"):
        doc_steps.write(tmp_path, doc_steps.read_steps("<!-- step: write settings.py -->\n```\nx\n```\n")[0])


@pytest.mark.timeout(900)
def test_a_new_site_follows_the_guide_and_goes_live(tmp_path):
    steps = doc_steps.read_steps(DOC.read_text())
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, what="python -m venv")
    web_port, pusher_port = free_port(), free_port()
    prefix = f"herald-docs-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    redis_url = os.environ.get("HERALD_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
    env = site_env(
        venv,
        REDIS_URL=redis_url,
        HERALD_TOKEN_SECRET=secrets.token_urlsafe(48),
        HERALD_CHANNEL_PREFIX=prefix,
        CELERY_BROKER_KEY_PREFIX=f"{prefix}:",
        # The pusher on its own port is another origin: the page connects to it by URL, and it accepts the site.
        HERALD_PUSHER_URL=f"http://127.0.0.1:{pusher_port}",
        HERALD_ALLOWED_ORIGINS=f"http://127.0.0.1:{web_port}",
    )
    project = tmp_path / "site"
    project.mkdir()
    services: list[SiteService] = []
    try:
        # The site as it was before Herald: Django, startproject, an app of its own, its own base template.
        run(["python", "-m", "pip", "install", "--quiet", "Django>=5.2,<6"], cwd=tmp_path, env=env, what="Django")
        run(["django-admin", "startproject", PROJECT, str(project)], cwd=tmp_path, env=env, what="startproject")
        run(["python", "manage.py", "startapp", "pages"], cwd=project, env=env, what="startapp")
        host_site.write_existing_site(project)

        follow_the_guide(steps, project=project, env=env, wheel=wheel)
        # Not even a warning (W001: no Celery app loaded) once the guide is followed.
        run(["python", "manage.py", "check", "--fail-level", "WARNING"], cwd=project, env=env, what="check")
        check_the_installed_package(venv, project=project, env=env)

        run(
            ["python", "manage.py", "shell", "-c", CREATE_USERS],
            cwd=project,
            env=env,
            what="creating the users",
        )
        logs = tmp_path / "logs"
        logs.mkdir()
        web, worker, pusher = start_processes(steps, project=project, env=env, logs=logs, ports=(web_port, pusher_port))
        services += [web, worker, pusher]
        pusher.wait_for_http(f"http://127.0.0.1:{pusher_port}/healthz")
        worker.wait_for_log("ready.", timeout=60)
        web.wait_for_http(f"http://127.0.0.1:{web_port}/accounts/login/", timeout=60)

        def notify(username: str, verb: str) -> None:
            run(
                ["python", "manage.py", "notify_user", username, verb, "--actor", "bob"],
                cwd=project,
                env=env,
                what="the site's notify_user command",
            )

        with chromium() as browser:
            browse(browser, site=f"http://127.0.0.1:{web_port}", notify=notify)
        # The deliveries went through the worker of the site's own app (named after the project).
        assert "herald.publish_notifications" in worker.log()
    finally:
        for service in reversed(services):
            service.stop()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()


# Run by the new site's `manage.py shell -c`.
CREATE_USERS = f"""\
from django.contrib.auth import get_user_model
User = get_user_model()
for name in ("alice", "bob"):
    User.objects.create_user(name, password={PASSWORD!r})
"""


def browse(browser, *, site: str, notify) -> None:
    contexts = []

    def log_in(username: str) -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{site}/accounts/login/?next=/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("#login button[type=submit]")
        expect(page.locator("#greeting")).to_have_text(f"Hello {username}")
        # The site's own page, with the widget of its base template connected to the pusher.
        expect(page.locator(STATE)).to_have_attribute("data-herald-state", "live", timeout=LIVE)
        page.click(BELL)  # opens the notification center
        return page

    try:
        alice_1, alice_2, bob = log_in("alice"), log_in("alice"), log_in("bob")
        for page in (alice_1, alice_2, bob):
            expect_unread(page, 0)

        notify("alice", "Deploy finished")

        for page in (alice_1, alice_2):
            expect_unread(page, 1)
            expect(page.locator(UNREAD_ITEMS).locator(".herald-verb")).to_have_text(["Deploy finished"], timeout=LIVE)
        notify("alice", "Backup done")
        for page in (alice_1, alice_2):
            expect_unread(page, 2)
            # Newest first.
            verbs = page.locator(UNREAD_ITEMS).locator(".herald-verb")
            expect(verbs).to_have_text(["Backup done", "Deploy finished"], timeout=LIVE)
        # The other user got nothing, live or stored.
        expect_unread(bob, 0)
        expect(bob.locator(UNREAD_ITEMS)).to_have_count(0)
        assert stock_unread_count(bob) == 0

        # django-notifications' own mark-as-read URL, posted from one of alice's tabs: the other follows.
        assert post_stock(alice_1, "mark-as-read", verb="Backup done") == "redirect"
        for page in (alice_2, alice_1):
            expect_unread(page, 1)
            expect(page.locator(UNREAD_ITEMS).locator(".herald-verb")).to_have_text(["Deploy finished"], timeout=LIVE)

        # And its mark-all-as-read, from the other tab.
        assert post_stock(alice_2, "mark-all-as-read") == "redirect"
        for page in (alice_1, alice_2):
            expect_unread(page, 0)
            expect(page.locator(UNREAD_ITEMS)).to_have_count(0, timeout=LIVE)
        assert stock_unread_count(alice_1) == 0
        for page in (alice_1, alice_2, bob):
            expect(page.locator(STATE)).to_have_attribute("data-herald-state", "live")
    finally:
        for context in contexts:
            context.close()


def expect_unread(page: Page, count: int) -> None:
    expect(page.locator(BADGE)).to_have_attribute("data-herald-count", str(count), timeout=LIVE)
    if count:
        expect(page.locator(BADGE)).to_have_text(str(count))


def stock_unread_count(page: Page) -> int:
    """django-notifications' own JSON endpoint, from the page (its session)."""
    return page.evaluate(
        """async () => (await (await fetch("/inbox/notifications/api/unread_count/")).json()).unread_count"""
    )


def post_stock(page: Page, action: str, *, verb: str | None = None) -> str:
    """POSTs to one of django-notifications' stock views as the site's own JavaScript would: CSRF token from the
    cookie, the notification's slug from the stock unread list. Returns "redirect" for the views' success."""
    return page.evaluate(
        """async ([action, verb]) => {
            const csrf = document.cookie.split("; ").find((c) => c.startsWith("csrftoken=")).split("=")[1];
            let url = `/inbox/notifications/${action}/`;
            if (verb !== null) {
                const list = await (await fetch("/inbox/notifications/api/unread_list/?max=100")).json();
                const item = list.unread_list.find((n) => n.verb === verb);
                if (!item) return `no unread notification ${verb}`;
                url = `/inbox/notifications/${action}/${item.slug}/`;
            }
            const response = await fetch(url, {
                method: "POST", headers: {"X-CSRFToken": csrf}, redirect: "manual", credentials: "same-origin",
            });
            return response.type === "opaqueredirect" ? "redirect" : `HTTP ${response.status}`;
        }""",
        [action, verb],
    )


# --- the guide, step by step ---------------------------------------------------------------


def follow_the_guide(steps: list[doc_steps.Step], *, project: Path, env: dict[str, str], wheel: Path) -> None:
    kinds = [step.kind for step in steps]
    for needed in ("install", "edit", "append", "write", "shell"):
        assert needed in kinds, f"docs/integrate.md has no '{needed}' step"
    for step in steps:
        if step.kind == "process":
            continue
        if step.kind in ("install", "shell"):
            script = step.body
            if step.kind == "install":
                script, replaced = re.subn(r"[^\s\"']*django_herald_live-[^\s\"'\[]+\.whl", str(wheel), script)
                assert replaced, f"docs/integrate.md {step}: no wheel path to install"
            run(["bash", "-euo", "pipefail", "-c", script], cwd=project, env=env, what=f"docs/integrate.md {step}")
        else:
            getattr(doc_steps, step.kind)(project, step)


def start_processes(
    steps: list[doc_steps.Step], *, project: Path, env: dict[str, str], logs: Path, ports: tuple[int, int]
) -> tuple[SiteService, SiteService, SiteService]:
    """The page's own commands; only what a test needs is added (its ports, a worker name of its own)."""
    web_port, pusher_port = ports
    venv_bin = Path(env["VIRTUAL_ENV"]) / "bin"

    def command(name: str) -> list[str]:
        args = shlex.split(doc_steps.process_command(steps, name))
        # The page's commands must be the installed ones, never the repository's.
        executable = shutil.which(args[0], path=str(venv_bin))
        assert executable, f"the {name} command of docs/integrate.md, {args[0]!r}, is not in the new virtualenv"
        return [executable, *args[1:]]

    web_args = command("web")
    assert web_args[1:3] == ["manage.py", "runserver"], web_args
    web = SiteService("web", [*web_args, "--noreload", f"127.0.0.1:{web_port}"], env, log_dir=logs, cwd=project)
    worker_args = command("worker")
    assert f"-A {PROJECT}" in " ".join(worker_args), "the worker must run the site's own Celery app"
    worker_args += ["--hostname", f"docs-{os.getpid()}@%h", "--without-gossip", "--without-mingle"]
    worker = SiteService("worker", worker_args, env, log_dir=logs, cwd=project)
    pusher_args = command("pusher")
    assert Path(pusher_args[0]).name == "herald-pusher", pusher_args
    pusher_env = {**env, "HERALD_PUSHER_PORT": str(pusher_port)}
    pusher = SiteService("pusher", pusher_args, pusher_env, log_dir=logs, cwd=project)
    return web.start(), worker.start(), pusher.start()


# --- the package ----------------------------------------------------------------------------


def build_wheel(tmp_path: Path) -> Path:
    """``pip wheel`` of the repository, as ``make wheel`` does, from a copy of its source tree.

    The copy keeps setuptools' build/ and *.egg-info out of the working tree (where a stale build/lib would
    leak removed modules into the wheel, and a concurrent ``make wheel`` would race with this one).
    """
    source, out = tmp_path / "source", tmp_path / "wheel"
    vendor = ROOT / "herald_live" / "static" / "herald" / "vendor" / "socket.io.min.js"
    assert vendor.exists(), f"{vendor.relative_to(ROOT)} is missing: run `make deps`"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), "."],
        cwd=source,
        what="pip wheel",
    )
    (wheel,) = out.glob("django_herald_live-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"herald_live"}, top
    assert "herald_live/static/herald/vendor/socket.io.min.js" in names
    assert "herald_live/templates/herald/bell.html" in names
    return wheel


def check_the_installed_package(venv: Path, *, project: Path, env: dict[str, str]) -> None:
    paths = run(
        ["python", "-c", "import sysconfig, herald_live; print(sysconfig.get_paths()['purelib']); "
         "print(herald_live.__file__)"],
        cwd=project, env=env, what="importing herald_live",
    ).split()  # fmt: skip
    site_packages, module = Path(paths[0]), Path(paths[1])
    assert site_packages.is_relative_to(venv) and module.is_relative_to(site_packages / "herald_live"), paths
    for name in FORBIDDEN_TOP_LEVEL:
        assert not (site_packages / name).exists() and not (site_packages / f"{name}.py").exists(), name
    assert (venv / "bin" / "herald-pusher").exists()
    run(["python", "-m", "pip", "check"], cwd=project, env=env, what="pip check")


# --- processes ------------------------------------------------------------------------------


def site_env(venv: Path, **values: str) -> dict[str, str]:
    """The new site's environment: its virtualenv first on PATH, and nothing of this repository's."""
    keep = {key: value for key, value in os.environ.items() if key.startswith(("PIP_", "LANG", "LC_"))}
    return {
        **keep,
        "HOME": os.environ["HOME"],
        "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "VIRTUAL_ENV": str(venv),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        **values,
    }


def run(args: list[str], *, cwd: Path, what: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        pytest.fail(f"{what} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result.stdout

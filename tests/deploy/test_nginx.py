"""The repository's nginx configuration in front of real processes: web, a worker and two pushers.

nginx runs as a plain process from deploy/nginx/ (nginx.conf + herald.conf), rendered with this test's ports
and paths under a prefix directory of its own.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.test import override_settings
from notifications.models import Notification

from tests.conftest import start_pusher
from tests.support import processes
from tests.support.clients import LiveSocket, WebSession
from tests.support.processes import ROOT, wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DEPLOY = ROOT / "deploy" / "nginx"

pytestmark = pytest.mark.usefixtures("committed")


def render_site_conf(text: str, *, port: int, web: int, pushers: list[int], static: Path, access_log: Path) -> str:
    """herald.conf with this test's addresses and paths, each replaced where the file writes it, exactly once."""
    replacements = {
        "listen 8080;": f"listen 127.0.0.1:{port};",
        "server web:8000;": f"server 127.0.0.1:{web};",
        "server pusher:8001;": " ".join(f"server 127.0.0.1:{pusher};" for pusher in pushers),
        "alias /srv/herald/static/;": f"alias {static}/;",
        "access_log /var/log/nginx/access.log herald;": f"access_log {access_log} herald;",
    }
    for old, new in replacements.items():
        assert text.count(old) == 1, f"deploy/nginx/herald.conf should contain {old!r} once"
        text = text.replace(old, new)
    return text


def render_main_conf(text: str) -> str:
    """deploy/nginx/nginx.conf as this test runs it.

    Started as root, nginx runs its workers as an unprivileged user ("nobody"), who cannot reach a checkout under a
    private folder (/root, a 0700 temporary directory): they would answer 403 for every static file. Here, and only
    here, the workers run as the user who runs the tests. Not as root, nginx changes no user and needs nothing.
    """
    if os.geteuid() != 0:
        return text
    user, group = pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name
    return f"# tests/deploy/test_nginx.py: workers as the tests' own user.\nuser {user} {group};\n{text}"


class Nginx:
    def __init__(self, prefix: Path, port: int) -> None:
        self.prefix = prefix
        self.url = f"http://127.0.0.1:{port}"
        self.conf = prefix / "conf" / "nginx.conf"
        self.error_log = prefix / "logs" / "error.log"
        self.access_log = prefix / "logs" / "access.log"
        self.service: processes.Service | None = None

    def args(self, *extra: str) -> list[str]:
        return [NGINX, "-p", f"{self.prefix}/", "-c", str(self.conf), "-e", str(self.error_log), *extra]

    def access_lines(self) -> list[str]:
        return self.access_log.read_text().splitlines() if self.access_log.exists() else []

    def upstream_of(self, marker: str) -> list[tuple[str, str]]:
        """(status, upstream) of every logged request whose request line contains marker."""
        found = []
        for line in self.access_lines():
            match = re.search(r'"[A-Z]+ (\S+) HTTP/[\d.]+" (\d{3}) .* upstream=(\S+)', line)
            if match and marker in match.group(1):
                found.append((match.group(2), match.group(3)))
        return found


@pytest.fixture(scope="module")
def nginx_port():
    return processes.free_port()


@pytest.fixture(scope="module")
def pushers(system_env, nginx_port):
    # Sockets through nginx carry the site's origin, which is nginx's.
    origins = f"{system_env['HERALD_ALLOWED_ORIGINS']},http://127.0.0.1:{nginx_port}"
    env = {**system_env, "HERALD_ALLOWED_ORIGINS": origins}
    started = []
    try:
        for _ in range(2):
            started.append(start_pusher(env, "eventlet"))
        yield started
    finally:
        for service in started:
            service.stop()


@pytest.fixture(scope="module")
def nginx(nginx_port, web_process, worker_process, pushers):
    # Under var/, in whatever folder the checkout is: nginx's workers run as the tests' user (render_main_conf).
    (ROOT / "var").mkdir(exist_ok=True)
    prefix = Path(tempfile.mkdtemp(prefix="test-nginx-", dir=ROOT / "var"))
    server = Nginx(prefix, nginx_port)
    try:
        for sub in ("conf", "logs", "static"):
            (prefix / sub).mkdir()
        with override_settings(STATIC_ROOT=prefix / "static"):
            call_command("collectstatic", interactive=False, verbosity=0)
        (prefix / "conf" / "nginx.conf").write_text(render_main_conf((DEPLOY / "nginx.conf").read_text()))
        site = render_site_conf(
            (DEPLOY / "herald.conf").read_text(),
            port=nginx_port,
            web=int(web_process.url.rsplit(":", 1)[1]),
            pushers=[int(pusher.url.rsplit(":", 1)[1]) for pusher in pushers],
            static=prefix / "static",
            access_log=server.access_log,
        )
        (prefix / "conf" / "herald.conf").write_text(site)

        checked = subprocess.run(server.args("-t"), capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stdout + checked.stderr

        server.service = processes.Service(f"nginx-{nginx_port}", server.args("-g", "daemon off;"), dict(os.environ))
        server.service.start()
        server.service.wait_for_http(f"{server.url}/nginx-healthz")
        yield server
    finally:
        if server.service is not None:
            server.service.stop()
        errors = server.error_log.read_text() if server.error_log.exists() else ""
        shutil.rmtree(prefix, ignore_errors=True)
        if "[emerg]" in errors or "[alert]" in errors:
            print(errors, file=sys.stderr)


@pytest.fixture
def sockets():
    opened: list[LiveSocket] = []

    def track(socket: LiveSocket) -> LiveSocket:
        opened.append(socket)
        return socket

    yield track
    for socket in opened:
        socket.close()


def login(nginx: Nginx, user) -> WebSession:
    return WebSession(nginx.url, user.username, user.raw_password)


def pusher_address(pusher) -> str:
    return pusher.url.removeprefix("http://")


def test_a_static_file_is_served_by_nginx_itself(nginx):
    # Herald's own script, collected from the installed package's static directory.
    script = requests.get(f"{nginx.url}/static/herald/herald.js", timeout=10)
    assert script.status_code == 200
    assert script.content == (ROOT / "herald_live" / "static" / "herald" / "herald.js").read_bytes()
    assert "max-age=3600" in script.headers["Cache-Control"]
    # The socket.io client the package ships (copied from npm at build time: hosts need no Node).
    vendor = requests.get(f"{nginx.url}/static/herald/vendor/socket.io.min.js", timeout=10)
    assert vendor.status_code == 200
    assert vendor.content == (ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js").read_bytes()
    # A file only nginx's static directory has: Django (which also serves /static/ here) cannot answer it.
    (nginx.prefix / "static" / "only-in-nginx.txt").write_text("from the static root\n")
    assert requests.get(f"{nginx.url}/static/only-in-nginx.txt", timeout=10).text == "from the static root\n"
    assert requests.get(f"{nginx.url}/static/missing.js", timeout=10).status_code == 404


def test_healthz_and_pages_are_proxied_to_web(nginx, web_process):
    response = requests.get(f"{nginx.url}/healthz?probe=healthz", timeout=10)

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "database": "up", "redis": "up"}
    web_address = web_process.url.removeprefix("http://")
    wait_until(lambda: nginx.upstream_of("probe=healthz"), timeout=5, what="the access log line")
    assert nginx.upstream_of("probe=healthz") == [("200", web_address)]
    assert requests.get(f"{nginx.url}/accounts/login/", timeout=10).status_code == 200


def test_the_container_healthcheck_script_answers_for_web_and_pusher(nginx, web_process, pushers):
    def healthcheck(url: str) -> int:
        command = [sys.executable, str(ROOT / "deploy" / "healthcheck.py"), url]
        env = {**os.environ, "HERALD_ALLOWED_HOSTS": "*,localhost"}
        return subprocess.run(command, capture_output=True, env=env, timeout=30).returncode

    assert healthcheck(f"{web_process.url}/healthz") == 0
    assert healthcheck(f"{pushers[0].url}/healthz") == 0
    assert healthcheck(f"http://127.0.0.1:{processes.free_port()}/healthz") == 1
    assert healthcheck(f"{web_process.url}/no-such-page") == 1


def test_every_session_gets_every_notification_whichever_pusher_nginx_chose(nginx, pushers, sockets, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    sender = login(nginx, bob)
    addresses = {pusher_address(pusher) for pusher in pushers}

    def route_of(session: WebSession, tag: str) -> str:
        """The pusher nginx sends this session's polling handshake (a browser's first request) to."""
        handshake = session.http.get(f"{nginx.url}/socket.io/", params={"tag": tag, "EIO": "4", "transport": "polling"})
        assert handshake.status_code == 200 and handshake.text.startswith("0{"), handshake.text
        wait_until(lambda: nginx.upstream_of(f"tag={tag}&"), timeout=5, what=f"the log line of {tag}")
        ((status, upstream),) = nginx.upstream_of(f"tag={tag}&")
        assert status == "200" and upstream in addresses, (status, upstream)
        return upstream

    # Log alice in through nginx until her sessions sit on both pushers: a session's pusher follows from its
    # cookie (deploy/nginx/herald.conf), and every request of one session must reach the same one.
    sessions: list[tuple[WebSession, str]] = []
    while {upstream for _, upstream in sessions} != addresses:
        assert len(sessions) < 24, f"nginx sent every session to one pusher: {[u for _, u in sessions]}"
        session = login(nginx, alice)
        upstream = route_of(session, f"probe{len(sessions)}a")
        assert route_of(session, f"probe{len(sessions)}b") == upstream, "one session reached two pushers"
        sessions.append((session, upstream))

    # One websocket per session, through nginx, as a browser on the site opens it (its cookies, its origin).
    live = []
    for number, (session, _) in enumerate(sessions):
        socket = sockets(LiveSocket(origin=nginx.url))
        cookie = "; ".join(f"{name}={value}" for name, value in session.http.cookies.items())
        socket.client.connect(
            f"{nginx.url}?tag=ws{number}",
            headers={"Cookie": cookie},
            auth={"token": session.token()},
            transports=["websocket"],
            wait_timeout=10,
        )
        live.append(socket)

    for text in ("first", "second"):
        assert sender.send(to=alice.username, message=text).status_code == 202

    for socket in live:
        socket.wait_for(lambda s: len(s.created_ids()) == 2)
    expected = list(Notification.objects.filter(recipient=alice).order_by("id").values_list("id", flat=True))
    assert len(expected) == 2
    for socket in live:
        assert sorted(socket.created_ids()) == expected

    # nginx logs a websocket when it closes: each went to the pusher its session's handshake went to.
    for socket in live:
        socket.close()
    for number, (_, upstream) in enumerate(sessions):
        marker = f"tag=ws{number}&"
        wait_until(lambda marker=marker: nginx.upstream_of(marker), timeout=10, what=f"the log line of {marker}")
        assert nginx.upstream_of(marker) == [("101", upstream)]

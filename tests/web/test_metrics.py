"""The web's metrics: on a listener of their own (127.0.0.1:9101 by default), never on the site's port.

Under gunicorn the master serves every worker's counters (prometheus-client's multiprocess mode, started once by
web/gunicorn.conf.py); under the development server (``make run``) the one process serves its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from herald_live.envvars import ConfigError
from tests.support import processes
from tests.support.clients import WebSession
from tests.support.metrics import metric
from web import metrics

pytestmark = pytest.mark.usefixtures("committed")

REFUSED = "herald_web_sends_refused_total"


def listening_addresses(port: int) -> set[str]:
    """The local addresses on which something listens on ``port`` (IPv4), from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, local_port = local.split(":")
        if state == "0A" and int(local_port, 16) == port:  # 0A: LISTEN
            found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def refuse_invalid_sends(url: str, user, count: int) -> None:
    """Sends the form refuses (no recipient, no message): each counts once in herald_web_sends_refused."""
    tab = WebSession(url, user.username, user.raw_password)
    for _ in range(count):
        assert tab.send(to="", message="").status_code == 400


def scrape(port: int) -> str:
    response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    return response.text


@pytest.mark.django_db
def test_the_site_has_no_metrics_url(client):
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ("127.0.0.1", 9101)),
        ({"HERALD_METRICS_PORT": ""}, ("127.0.0.1", 0)),
        ({"HERALD_METRICS_PORT": "0"}, ("127.0.0.1", 0)),
        ({"HERALD_METRICS_PORT": "9200", "HERALD_METRICS_HOST": "10.0.0.5"}, ("10.0.0.5", 9200)),
    ],
)
def test_the_listener_is_on_localhost_9101_unless_told_otherwise(monkeypatch, env, expected):
    monkeypatch.delenv("HERALD_METRICS_PORT", raising=False)
    monkeypatch.delenv("HERALD_METRICS_HOST", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert metrics.listener_address() == expected


@pytest.mark.parametrize("port", ["metrics", "-1", "65536"])
def test_a_bad_port_fails_loudly_with_its_name(monkeypatch, port):
    monkeypatch.setenv("HERALD_METRICS_PORT", port)
    with pytest.raises(ConfigError, match="HERALD_METRICS_PORT"):
        metrics.listener_address()


def test_gunicorn_serves_every_workers_counters_from_one_listener_on_localhost(system_env, make_user):
    port, metrics_port = processes.free_port(), processes.free_port()
    env = {**system_env, "HERALD_METRICS_PORT": str(metrics_port)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # web/gunicorn.conf.py makes a private one
    web = processes.gunicorn_web(env, port=port, workers=2).start()
    url = f"http://127.0.0.1:{port}"
    try:
        web.wait_for_http(f"{url}/accounts/login/")
        refuse_invalid_sends(url, make_user("bob"), 6)

        # The master's listener adds up both workers' counters (it counts none of its own).
        assert metric(scrape(metrics_port), REFUSED, reason="invalid") == 6
        assert listening_addresses(metrics_port) == {"127.0.0.1"}
        assert requests.get(f"{url}/metrics", timeout=10).status_code == 404
    finally:
        web.stop()
    log = web.log()
    assert log.count(f"metrics on http://127.0.0.1:{metrics_port}/metrics") == 1
    assert "cannot listen" not in log and "no listener" not in log


def test_the_development_server_serves_its_own_metrics_on_their_port(system_env, make_user):
    port, metrics_port = processes.free_port(), processes.free_port()
    env = {**system_env, "HERALD_METRICS_PORT": str(metrics_port)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # one process: its own registry
    web = processes.web(env, port=port).start()
    url = f"http://127.0.0.1:{port}"
    try:
        web.wait_for_http(f"{url}/accounts/login/")
        refuse_invalid_sends(url, make_user("bob"), 2)

        assert metric(scrape(metrics_port), REFUSED, reason="invalid") == 2
        assert listening_addresses(metrics_port) == {"127.0.0.1"}
        assert requests.get(f"{url}/metrics", timeout=10).status_code == 404
    finally:
        web.stop()


def test_port_0_serves_no_metrics(system_env):
    port = processes.free_port()
    web = processes.gunicorn_web({**system_env, "HERALD_METRICS_PORT": "0"}, port=port).start()
    try:
        web.wait_for_http(f"http://127.0.0.1:{port}/accounts/login/")
        web.wait_for_log("metrics: off")
    finally:
        web.stop()
    assert "metrics on http" not in web.log()

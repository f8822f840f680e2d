"""Chromium against the real web, worker and pusher processes: the fixtures of test_browser.py and test_widget.py."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support import processes
from tests.support.browser import log_in
from tests.support.clients import LiveSocket, WebSession


@pytest.fixture
def site(worker_process, pusher_process, web_process):
    return web_process.url


@pytest.fixture
def open_page(browser, site):
    """Logs a user in, in a browser context of its own (a tab of its own session), on the home page."""
    contexts = []

    def open_as(user, *, viewport=None, javascript: bool = True, color_scheme: str = "light") -> Page:
        context, page = log_in(
            browser,
            site,
            user,
            viewport=viewport or {"width": 1280, "height": 800},
            java_script_enabled=javascript,
            color_scheme=color_scheme,
        )
        contexts.append(context)
        if javascript:
            expect(page.locator("#herald-root")).to_have_attribute("data-herald-state", "live", timeout=10_000)
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of the test's own, which it may stop and start."""
    port = processes.free_port()
    server = processes.redis_server(port=port, data_dir=tmp_path / "redis").start()
    server.url = f"redis://127.0.0.1:{port}/0"
    processes.wait_until(lambda: processes.redis_answers(server.url), timeout=10, what="redis-server")
    yield server
    server.stop()


@pytest.fixture
def sockets():
    """Opens live sockets for web sessions; closes them after the test."""
    opened: list[LiveSocket] = []

    def open_for(session: WebSession, pusher_url: str) -> LiveSocket:
        socket = LiveSocket(origin=session.base_url).connect(pusher_url, session.token())
        opened.append(socket)
        return socket

    yield open_for
    for socket in opened:
        socket.close()

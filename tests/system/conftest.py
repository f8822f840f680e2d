"""Chromium against the real web, worker and pusher processes: the fixtures of test_browser.py and test_widget.py."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import log_in


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

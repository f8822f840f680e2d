"""Debian's Chromium through Playwright (its own browser downloads cannot run here), one way for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    # Playwright's sync API keeps an asyncio loop in this thread; the tests' own ORM calls are plain
    # synchronous code, which Django would otherwise refuse next to that loop.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def log_in(browser: Browser, base_url: str, user, **context_options) -> tuple[BrowserContext, Page]:
    """A browser session of its own (a new context), logged in through the site's login form, on the home page."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    submit_login(page, base_url, user)
    return context, page


def submit_login(page: Page, base_url: str, user) -> None:
    """The site's login form, filled and sent in this tab; it ends on the home page, its scripts run."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", user.raw_password)
    page.click("form button[type=submit]")
    expect(page).to_have_url(f"{base_url}/")
    # The URL changes before the page's deferred scripts run: a test that types at once would race their listeners
    # (seen in CI on a busy machine: send.js had not attached its input listener, no suggestion ever came).
    page.wait_for_load_state("domcontentloaded")

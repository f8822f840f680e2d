"""The widget never hangs silently (offline.js), in a real Chromium against the real web, worker and pusher.

With the pusher down it says "Offline, retrying" and that nothing answers, and new notifications still appear by
polling; back live, nothing is doubled. A refused token or a refused origin is told apart, on the page and in the
console with the setting to fix.
"""

from __future__ import annotations

import signal

import pytest
from playwright.sync_api import expect

from herald_live import producers, wire
from tests.support.browser import log_in
from tests.support.widget import Widget

pytestmark = pytest.mark.usefixtures("committed")


def console_warnings(page) -> list[str]:
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text) if message.type == "warning" else None)
    return warnings


def test_with_the_pusher_down_the_page_says_so_and_still_shows_what_is_sent(open_page, make_user, pusher_process):
    alice, bob = make_user("alice"), make_user("bob")
    page = open_page(alice)
    widget = Widget(page)
    warnings = console_warnings(page)
    producers.notify(recipients=alice, verb="before", actor=bob)
    expect(widget.items()).to_have_count(1)

    pusher_process.stop(signal.SIGKILL)

    widget.expect_state("offline", timeout=20_000)
    expect(widget.root).to_have_attribute("data-herald-offline", "unreachable")
    expect(page.locator("#herald-root .herald-state-text")).to_have_text(
        "Offline, retrying: the live server does not answer"
    )
    assert any("does not answer" in text and "HERALD_PUSHER_URL" in text for text in warnings), warnings
    producers.notify(recipients=alice, verb="while the pusher is down", actor=bob)
    # Polled: the first look 5 s after the widget went offline, then 10 s later.
    expect(widget.item("while the pusher is down")).to_have_count(1, timeout=25_000)
    widget.expect_unread(2)

    pusher_process.start()
    pusher_process.wait_for_http(f"{pusher_process.url}/healthz")
    widget.expect_state("live", timeout=30_000)
    expect(widget.root).not_to_have_attribute("data-herald-offline", "unreachable")
    producers.notify(recipients=alice, verb="after", actor=bob)
    expect(widget.items()).to_have_count(3)
    ids = widget.ids()
    assert len(ids) == len(set(ids)) == 3
    assert widget.verbs() == ["after", "while the pusher is down", "before"]


def test_a_token_the_pusher_refuses_is_named_with_the_setting_to_fix(browser, site, make_user, pusher_process):
    context, page = log_in(browser, site, make_user("alice"))
    try:
        Widget(page).expect_state("live")
        # A web whose HERALD_TOKEN_SECRET is not the pusher's: its tokens are signed with another secret.
        forged = wire.sign_token(secret="another secret " * 4, session="a" * 40, user_id=1)
        context.route("**/herald/socket-token/", lambda route: route.fulfill(json={"token": forged, "expires_in": 120}))
        warnings = console_warnings(page)
        page.reload()
        widget = Widget(page)

        widget.expect_state("offline", timeout=20_000)
        expect(widget.root).to_have_attribute("data-herald-offline", "token")
        expect(page.locator("#herald-root .herald-state-text")).to_have_text(
            "Offline, retrying: the live server refused this page's credentials"
        )
        assert any("bad signature" in text and "HERALD_TOKEN_SECRET" in text for text in warnings), warnings
    finally:
        context.close()


def test_an_origin_the_pusher_refuses_is_named_with_the_setting_to_fix(browser, site, make_user, pusher_process):
    """A page at localhost while the pusher allows 127.0.0.1 only: it used to say "Connecting…" for ever."""
    elsewhere = site.replace("127.0.0.1", "localhost")
    context, page = log_in(browser, elsewhere, make_user("alice"))
    try:
        warnings = console_warnings(page)
        page.reload()
        widget = Widget(page)

        widget.expect_state("offline", timeout=20_000)
        expect(widget.root).to_have_attribute("data-herald-offline", "origin")
        expect(page.locator("#herald-root .herald-state-text")).to_have_text(
            "Offline, retrying: the live server refused this page's address"
        )
        assert any(elsewhere in text and "HERALD_ALLOWED_ORIGINS" in text for text in warnings), warnings
    finally:
        context.close()

"""The live page in a real Chromium, against the real web, worker and pusher processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from notifications.models import Notification
from playwright.sync_api import Page, expect, sync_playwright

from tests.support.clients import WebSession
from tests.support.processes import ROOT
from web.home.forms import EVERYONE

pytestmark = pytest.mark.usefixtures("committed")

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
SCREENSHOTS = Path(os.environ.get("HERALD_SCREENSHOT_DIR", ROOT / "var" / "screenshots"))


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an asyncio loop in this thread; the test's own ORM calls
    # are plain synchronous code, which Django would otherwise refuse next to that loop.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def site(worker_process, pusher_process, web_process):
    return web_process.url


@pytest.fixture
def open_page(browser, site):
    contexts = []

    def open_as(user, *, viewport=None, javascript: bool = True) -> Page:
        context = browser.new_context(
            viewport=viewport or {"width": 1280, "height": 800}, java_script_enabled=javascript
        )
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{site}/accounts/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", user.raw_password)
        page.click("form button[type=submit]")
        expect(page).to_have_url(f"{site}/")
        if javascript:
            expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=10_000)
        return page

    yield open_as
    for context in contexts:
        context.close()


def send_from(page: Page, *, to: str, message: str) -> None:
    page.select_option("select[name=recipient]", to)
    page.fill("input[name=message]", message)
    page.click("#send-form button[type=submit]")
    expect(page.locator("#send-status")).to_have_text("Sent.")


def items(page: Page):
    return page.locator("#notifications li.notification")


def test_the_seed_scenario_two_browsers_of_alice_and_one_of_bob(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    alice_1, alice_2, bobs = open_page(alice), open_page(alice), open_page(bob)

    send_from(bobs, to=alice.username, message="Welcome to Herald")

    for page in (alice_1, alice_2):
        expect(items(page)).to_have_count(1)
        expect(items(page).first.locator(".verb")).to_have_text("Welcome to Herald")
        expect(items(page).first.locator(".actor")).to_have_text(bob.username)
        expect(page.locator("#unread-count")).to_have_text("1")
        expect(page.locator("#toasts .toast .verb")).to_have_text("Welcome to Herald")
    send_from(bobs, to=alice.username, message="Second")
    expect(items(alice_2)).to_have_count(2)
    expect(items(alice_2).first.locator(".verb")).to_have_text("Second")  # newest first
    expect(alice_2.locator("#unread-count")).to_have_text("2")
    expect(items(bobs)).to_have_count(0)
    expect(bobs.locator("#unread-count")).to_have_text("0")

    alice_1.click("#mark-all-read-form button")

    for page in (alice_1, alice_2):
        expect(items(page)).to_have_count(0)
        expect(page.locator("#unread-count")).to_have_text("0")
    assert not Notification.objects.filter(recipient=alice, unread=True).exists()


def test_mark_one_read_clears_it_in_every_tab(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    first, second, bobs = open_page(alice), open_page(alice), open_page(bob)
    send_from(bobs, to=alice.username, message="keep")
    send_from(bobs, to=alice.username, message="read me")
    expect(items(second)).to_have_count(2)

    first.locator("#notifications li", has_text="read me").locator("button").click()

    for page in (first, second):
        expect(items(page)).to_have_count(1)
        expect(items(page).first.locator(".verb")).to_have_text("keep")
        expect(page.locator("#unread-count")).to_have_text("1")


def test_a_send_to_everyone_reaches_all_pages(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    pages = [open_page(alice), open_page(alice), open_page(bob)]

    send_from(pages[2], to=EVERYONE, message="Deploy at five")

    for page in pages:
        expect(page.locator("#notifications li", has_text="Deploy at five")).to_have_count(1)


def test_revoking_the_other_session_cuts_it_off(open_page, make_user, site):
    alice, bob = make_user("alice"), make_user("bob")
    keeper, revoked = open_page(alice), open_page(alice)
    sender = WebSession(site, bob.username, bob.raw_password)

    keeper.goto(f"{site}/sessions/")
    expect(keeper.locator("#sessions tbody tr")).to_have_count(2)
    keeper.click("#sessions tr[data-current=false] button")
    expect(keeper.locator("#sessions tbody tr")).to_have_count(1)

    expect(revoked.locator("#live-state")).to_have_text("signed out", timeout=5_000)
    sender.send(to=alice.username, message="not for the revoked page")
    keeper.goto(f"{site}/")
    expect(keeper.locator("#notifications li", has_text="not for the revoked page")).to_have_count(1)
    expect(items(revoked)).to_have_count(0)
    revoked.reload()
    expect(revoked).to_have_url(f"{site}/accounts/login/?next=/")


def test_logging_out_cuts_that_page_off(open_page, make_user, site):
    alice = make_user("alice")
    leaving, staying = open_page(alice), open_page(alice)

    leaving.click("nav form button")

    expect(leaving).to_have_url(f"{site}/accounts/login/")
    expect(staying.locator("#live-state")).to_have_text("live")


def test_what_is_sent_while_the_pusher_is_down_arrives_once_after_it_returns(
    open_page, make_user, site, pusher_process
):
    alice, bob = make_user("alice"), make_user("bob")
    first, second = open_page(alice), open_page(alice)
    sender = WebSession(site, bob.username, bob.raw_password)
    sender.send(to=alice.username, message="before")
    expect(items(second)).to_have_count(1)

    pusher_process.stop(signal.SIGKILL)
    expect(first.locator("#live-state")).to_have_text("reconnecting")
    sender.send(to=alice.username, message="while down")
    pusher_process.start()
    pusher_process.wait_for_http(f"{pusher_process.url}/healthz")

    for page in (first, second):
        expect(page.locator("#live-state")).to_have_text("live", timeout=15_000)
        expect(items(page)).to_have_count(2)
    sender.send(to=alice.username, message="after")
    for page in (first, second):
        expect(items(page)).to_have_count(3)
        expect(page.locator("#unread-count")).to_have_text("3")
        ids = [li.get_attribute("data-id") for li in items(page).all()]
        assert len(ids) == len(set(ids)) == 3
        assert [li.inner_text() for li in page.locator("#notifications .verb").all()] == [
            "after",
            "while down",
            "before",
        ]


def test_html_in_a_message_is_shown_as_text_and_runs_nothing(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    receiver, bobs = open_page(alice), open_page(bob)
    payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold</b>'

    send_from(bobs, to=alice.username, message=payload)

    expect(items(receiver).first.locator(".verb")).to_have_text(payload)
    expect(receiver.locator("#toasts .toast .verb")).to_have_text(payload)
    assert receiver.locator("#notifications img, #notifications b, #toasts img").count() == 0
    receiver.reload()
    expect(items(receiver).first.locator(".verb")).to_have_text(payload)
    assert receiver.evaluate("window.__xss") is None


def test_without_javascript_every_action_still_works(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    bobs = open_page(bob, javascript=False)
    alices = open_page(alice, javascript=False)

    send_from_plain = bobs
    send_from_plain.select_option("select[name=recipient]", alice.username)
    send_from_plain.fill("input[name=message]", "plain html")
    send_from_plain.click("#send-form button[type=submit]")
    expect(send_from_plain.locator(".alert")).to_have_text("Sent.")

    for _ in range(50):
        alices.reload()
        if items(alices).count():
            break
        alices.wait_for_timeout(200)
    expect(items(alices).first.locator(".verb")).to_have_text("plain html")
    alices.click("#mark-all-read-form button")
    expect(items(alices)).to_have_count(0)
    expect(alices.locator("#unread-count")).to_have_text("0")


def test_screenshots_of_home_phone_and_sessions(open_page, make_user, site):
    alice, bob = make_user("alice"), make_user("bob")
    bobs = open_page(bob)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    desktop = open_page(alice)
    phone = open_page(alice, viewport={"width": 390, "height": 844})
    for text, to in (("Your report is ready", alice.username), ("Deploy finished", EVERYONE)):
        send_from(bobs, to=to, message=text)
    expect(items(phone)).to_have_count(2)
    for page in (desktop, phone):
        expect(page.locator("#toasts .toast.show")).to_have_count(2)
        page.wait_for_timeout(1500)  # let the fade-in and the arrival highlight finish: a picture, not a check

    desktop.screenshot(path=SCREENSHOTS / "home-desktop.png")
    phone.screenshot(path=SCREENSHOTS / "home-phone.png", full_page=True)
    desktop.goto(f"{site}/sessions/")
    desktop.screenshot(path=SCREENSHOTS / "sessions.png")

    for name in ("home-desktop.png", "home-phone.png", "sessions.png"):
        assert (SCREENSHOTS / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390, "the phone layout overflows sideways"


def test_the_badge_and_toasts_are_live_on_other_pages_too(open_page, make_user, site):
    alice, bob = make_user("alice"), make_user("bob")
    page = open_page(alice)
    page.goto(f"{site}/sessions/")
    expect(page.locator("#live-state")).to_have_text("live")

    WebSession(site, bob.username, bob.raw_password).send(to=alice.username, message="seen anywhere")

    expect(page.locator("#unread-count")).to_have_text("1")
    expect(page.locator("#toasts .toast .verb")).to_have_text("seen anywhere")

"""The reference site with Herald's widget in a real Chromium, against the real web, worker and pusher processes.

Fixtures: tests/system/conftest.py (Chromium, logged-in pages); the widget's locators: tests/support/widget.py.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from notifications.models import Notification
from playwright.sync_api import Page, expect

from herald_live import producers
from tests.support import processes
from tests.support.clients import WebSession
from tests.support.processes import ROOT
from tests.support.widget import Widget

pytestmark = pytest.mark.usefixtures("committed")

SCREENSHOTS = Path(os.environ.get("HERALD_SCREENSHOT_DIR", ROOT / "var" / "screenshots"))
SEND_FORM = "form:has(#id_recipient)"


def send_from(page: Page, *, to: str, message: str) -> None:
    """The reference site's send form (its recipient is a typed username)."""
    page.fill("#id_recipient", to)
    page.fill(f"{SEND_FORM} [name=message]", message)
    page.click(f"{SEND_FORM} [type=submit]")
    expect(page.locator("#send-status")).to_have_text("Sent.")


def test_the_seed_scenario_two_browsers_of_alice_and_one_of_bob(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    alice_1, alice_2, bobs = open_page(alice), open_page(alice), open_page(bob)
    widgets = [Widget(alice_1), Widget(alice_2)]

    send_from(bobs, to=alice.username, message="Welcome to Herald")

    for widget in widgets:
        expect(widget.items()).to_have_count(1)
        expect(widget.items().first.locator(".herald-verb")).to_have_text("Welcome to Herald")
        expect(widget.items().first.locator(".herald-actor")).to_have_text(bob.username)
        widget.expect_unread(1)
        expect(widget.badge).to_have_text("1")
        expect(widget.bell).to_have_attribute("aria-label", "1 unread notification")
        expect(widget.toasts.locator(".herald-verb")).to_have_text(["Welcome to Herald"])
    send_from(bobs, to=alice.username, message="Second")
    expect(widgets[1].items()).to_have_count(2)
    assert widgets[1].verbs() == ["Second", "Welcome to Herald"]  # newest first
    widgets[1].expect_unread(2)
    expect(Widget(bobs).items()).to_have_count(0)
    Widget(bobs).expect_unread(0)
    expect(Widget(bobs).badge).to_be_hidden()

    widgets[0].open()
    alice_1.get_by_role("button", name="Mark all as read").click()

    for widget in widgets:
        expect(widget.items()).to_have_count(0)
        widget.expect_unread(0)
        expect(widget.toasts).to_have_count(0)
    assert not Notification.objects.filter(recipient=alice, unread=True).exists()


def test_mark_one_read_clears_it_in_every_tab(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    first, second = Widget(open_page(alice)), Widget(open_page(alice))
    producers.notify(recipients=alice, verb="keep", actor=bob)
    producers.notify(recipients=alice, verb="read me", actor=bob)
    expect(second.items()).to_have_count(2)

    first.open()
    first.item("read me").get_by_role("button", name="Mark as read").click()

    for widget in (first, second):
        expect(widget.items()).to_have_count(1)
        expect(widget.items().first.locator(".herald-verb")).to_have_text("keep")
        widget.expect_unread(1)
    # Its toast went with it.
    expect(second.toasts.filter(has_text="read me")).to_have_count(0)


def test_a_send_to_everyone_reaches_all_pages(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    widgets = [Widget(open_page(alice)), Widget(open_page(alice)), Widget(open_page(bob))]

    producers.notify(recipients=producers.EVERYONE, verb="Deploy at five")

    for widget in widgets:
        expect(widget.item("Deploy at five")).to_have_count(1)
        expect(widget.item("Deploy at five").locator(".herald-actor")).to_have_text("Herald")


def test_revoking_the_other_session_cuts_it_off(open_page, make_user, site):
    alice, bob = make_user("alice"), make_user("bob")
    keeper, revoked = open_page(alice), open_page(alice)

    keeper.goto(f"{site}/sessions/")
    expect(keeper.locator("#sessions tbody tr")).to_have_count(2)
    keeper.click("#sessions tr[data-current=false] button")
    expect(keeper.locator("#sessions tbody tr")).to_have_count(1)

    Widget(revoked).expect_state("signed-out", timeout=5_000)
    expect(revoked.locator("#herald-root .herald-state-text")).to_have_text("Signed out")
    producers.notify(recipients=alice, verb="not for the revoked page", actor=bob)
    keeper.goto(f"{site}/")
    expect(Widget(keeper).item("not for the revoked page")).to_have_count(1)
    expect(Widget(revoked).items()).to_have_count(0)
    revoked.reload()
    expect(revoked).to_have_url(f"{site}/accounts/login/?next=/")


def test_logging_out_cuts_that_page_off(open_page, make_user, site):
    alice, bob = make_user("alice"), make_user("bob")
    leaving, staying = open_page(alice), open_page(alice)

    leaving.get_by_role("button", name="Log out").click()

    expect(leaving).to_have_url(f"{site}/accounts/login/")
    expect(leaving.locator("#herald-root")).to_have_count(0)  # nothing of the widget for anonymous pages
    Widget(staying).expect_state("live")
    producers.notify(recipients=alice, verb="still here", actor=bob)
    expect(Widget(staying).item("still here")).to_have_count(1)


def test_what_is_sent_while_the_pusher_is_down_arrives_once_after_it_returns(
    open_page, make_user, site, pusher_process
):
    alice, bob = make_user("alice"), make_user("bob")
    first, second = Widget(open_page(alice)), Widget(open_page(alice))
    sender = WebSession(site, bob.username, bob.raw_password)
    sender.send(to=alice.username, message="before")
    expect(second.items()).to_have_count(1)

    pusher_process.stop(signal.SIGKILL)
    first.expect_state("reconnecting")
    expect(first.page.locator("#herald-root .herald-state-text")).to_have_text("Reconnecting…")
    sender.send(to=alice.username, message="while down")
    pusher_process.start()
    pusher_process.wait_for_http(f"{pusher_process.url}/healthz")

    for widget in (first, second):
        widget.expect_state("live", timeout=15_000)
        expect(widget.items()).to_have_count(2)
    sender.send(to=alice.username, message="after")
    for widget in (first, second):
        expect(widget.items()).to_have_count(3)
        widget.expect_unread(3)
        ids = widget.ids()
        assert len(ids) == len(set(ids)) == 3
        assert widget.verbs() == ["after", "while down", "before"]


def test_html_in_a_message_is_shown_as_text_and_runs_nothing(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    receiver = open_page(alice)
    widget = Widget(receiver)
    payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold</b>'

    send_from(open_page(bob), to=alice.username, message=payload)

    expect(widget.items().first.locator(".herald-verb")).to_have_text(payload)
    expect(widget.toasts.locator(".herald-verb")).to_have_text([payload])
    assert receiver.locator("#herald-root img, #herald-root b, #herald-toasts img, #herald-toasts b").count() == 0
    receiver.reload()
    expect(widget.items().first.locator(".herald-verb")).to_have_text(payload)
    assert receiver.locator("#herald-root img, #herald-root b").count() == 0
    assert receiver.evaluate("window.__xss") is None


def test_without_javascript_every_action_still_works(open_page, make_user, site):
    alice, bob = make_user("alice"), make_user("bob")
    bobs = open_page(bob, javascript=False)
    alices = open_page(alice, javascript=False)
    bell = alices.locator("a#herald-bell")
    expect(bell).to_have_attribute("aria-label", "0 unread notifications")

    bobs.fill("#id_recipient", alice.username)
    bobs.fill(f"{SEND_FORM} [name=message]", "plain html")
    bobs.click(f"{SEND_FORM} [type=submit]")
    expect(bobs.locator(".alert")).to_have_text("Sent.")

    for _ in range(50):  # no socket without JavaScript: reload until the worker has written it
        alices.reload()
        if alices.locator("#herald-root .herald-badge").get_attribute("data-herald-count") == "1":
            break
        alices.wait_for_timeout(200)
    expect(bell).to_have_attribute("aria-label", "1 unread notification")
    expect(alices.locator("#herald-root .herald-badge")).to_have_text("1")

    bell.click()  # a link to the notification center page
    expect(alices).to_have_url(f"{site}/herald/")
    items = alices.locator(".herald-center-list .herald-item")
    expect(items).to_have_count(1)
    expect(items.first.locator(".herald-verb")).to_have_text("plain html")
    items.first.get_by_role("button", name="Mark as read").click()
    expect(alices).to_have_url(f"{site}/herald/")
    expect(items).to_have_count(0)
    expect(alices.locator(".herald-center-empty")).to_have_text("You are all caught up.")
    expect(alices.locator("#herald-root .herald-badge")).to_be_hidden()

    alices.get_by_role("link", name="All").click()
    expect(items).to_have_count(1)
    items.first.get_by_role("button", name="Mark as unread").click()
    expect(alices).to_have_url(f"{site}/herald/?filter=all")
    expect(alices.locator("#herald-root .herald-badge")).to_have_text("1")
    alices.get_by_role("button", name="Mark all as read").click()
    expect(alices.locator("#herald-root .herald-badge")).to_be_hidden()
    assert not Notification.objects.filter(recipient=alice, unread=True).exists()

    # Paged by id, newest first, twenty to a page.
    Notification.objects.bulk_create(Notification(recipient=alice, actor=bob, verb=f"n{i}") for i in range(25))
    alices.goto(f"{site}/herald/")
    expect(items).to_have_count(20)
    expect(items.first.locator(".herald-verb")).to_have_text("n24")
    alices.get_by_role("link", name="Older").click()
    expect(items).to_have_count(5)
    expect(items.last.locator(".herald-verb")).to_have_text("n0")
    expect(alices.get_by_role("link", name="Older")).to_have_count(0)
    alices.get_by_role("link", name="Newest").click()
    expect(items).to_have_count(20)


def test_the_phone_layout_keeps_the_panel_on_screen(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    phone = open_page(alice, viewport={"width": 390, "height": 844})
    producers.notify(recipients=alice, verb="A long message " * 12, actor=bob)
    widget = Widget(phone)
    expect(widget.items()).to_have_count(1)
    expect(widget.toasts).to_have_count(1)
    toast = widget.toasts.first.bounding_box()
    assert toast["x"] >= 0 and toast["x"] + toast["width"] <= 390

    widget.open()
    box = widget.panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert box["y"] + box["height"] <= 844, box
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390, "the phone layout overflows sideways"
    expect(widget.items().first.get_by_role("button", name="Mark as read")).to_be_visible()


def test_screenshots_of_home_phone_panel_and_sessions(open_page, make_user, site):
    alice, bob = make_user("alice"), make_user("bob")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    bobs = open_page(bob)
    Notification.objects.create(recipient=alice, actor=bob, verb="Weekly report is ready", unread=False)
    desktop = open_page(alice)
    phone = open_page(alice, viewport={"width": 390, "height": 844})
    dark = open_page(alice, color_scheme="dark")
    send_from(bobs, to=alice.username, message="Your report is ready")
    producers.notify(recipients=alice, verb="Deploy of web 2.4 finished", level="success")
    producers.notify(recipients=alice, verb="Disk usage on db-1 is above 90%", level="warning")
    for page in (desktop, phone, dark):
        expect(Widget(page).items()).to_have_count(3)
        expect(Widget(page).toasts).to_have_count(3)
    desktop.wait_for_timeout(600)  # let the toasts' slide-in finish: a picture, not a check

    desktop.screenshot(path=SCREENSHOTS / "home-desktop.png")
    phone.screenshot(path=SCREENSHOTS / "home-phone.png", full_page=True)
    for page, name in ((desktop, "panel-light.png"), (dark, "panel-dark.png")):
        Widget(page).open()
        page.wait_for_timeout(300)
        page.screenshot(path=SCREENSHOTS / name)
    desktop.goto(f"{site}/sessions/")
    desktop.screenshot(path=SCREENSHOTS / "sessions.png")

    for name in ("home-desktop.png", "home-phone.png", "panel-light.png", "panel-dark.png", "sessions.png"):
        assert (SCREENSHOTS / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390, "the phone layout overflows sideways"


def test_the_badge_and_toasts_are_live_on_other_pages_too(open_page, make_user, site):
    alice, bob = make_user("alice"), make_user("bob")
    page = open_page(alice)
    page.goto(f"{site}/sessions/")
    widget = Widget(page)
    widget.expect_state("live")

    WebSession(site, bob.username, bob.raw_password).send(to=alice.username, message="seen anywhere")

    widget.expect_unread(1)
    expect(widget.toasts.locator(".herald-verb")).to_have_text(["seen anywhere"])
    expect(page).to_have_title("(1) Your sessions · Herald")


def test_under_the_sites_strict_csp_the_live_widget_causes_no_violation(browser, site, make_user, system_env):
    alice, bob = make_user("alice"), make_user("bob")
    producers.notify(recipients=alice, verb="sent before the page opened", actor=bob)
    violations: list[str] = []
    console_errors: list[str] = []
    context = browser.new_context()
    try:
        # Reported from every document of the context, the login page included, before any of its scripts runs.
        context.expose_function("heraldTestViolation", lambda report: violations.append(report))
        context.add_init_script(
            """window.heraldViolations = [];
               document.addEventListener("securitypolicyviolation", (e) => {
                 const report = `${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`;
                 window.heraldViolations.push(report);
                 window.heraldTestViolation(report);
               });"""
        )
        page = context.new_page()
        page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
        page.goto(f"{site}/accounts/login/")
        page.fill("input[name=username]", alice.username)
        page.fill("input[name=password]", alice.raw_password)
        with page.expect_response(f"{site}/") as home:
            page.click("form button[type=submit]")
        policy = home.value.headers["content-security-policy"]
        widget = Widget(page)
        widget.expect_state("live")
        widget.open()
        expect(widget.item("sent before the page opened")).to_have_count(1)
        producers.notify(recipients=alice, verb="live under the policy", actor=bob)
        expect(widget.item("live under the policy")).to_have_count(1)
        widget.expect_unread(2)
        # The send form still works in place.
        page.keyboard.press("Escape")
        send_from(page, to=bob.username, message="from under the policy")

        assert page.evaluate("window.heraldViolations") == []  # this page's, read now
        assert violations == [], violations  # every page's (the login page too), as delivered
        assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
        # The site's own script ran from its file (the colour scheme).
        assert page.evaluate("document.documentElement.dataset.bsTheme") == "light"

        # Strict: no inline script or style, no eval; the pusher (HERALD_PUSHER_URL) over http and ws only.
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["script-src"] == "'self'"
        assert directives["style-src"] == "'self'"
        pusher = system_env["HERALD_PUSHER_URL"]
        assert directives["connect-src"] == f"'self' {pusher} {pusher.replace('http://', 'ws://')}"
        # The listener hears a violation when there is one: an image from elsewhere is refused.
        page.evaluate(
            """() => { const img = document.createElement("img");
                       img.src = "http://example.invalid/pixel.png"; document.body.append(img); }"""
        )
        for _ in range(50):  # Playwright delivers the report while it runs: wait through it, not time.sleep
            if violations:
                break
            page.wait_for_timeout(100)
        assert violations[0].startswith("img-src http://example.invalid/pixel.png"), violations
    finally:
        context.close()


def test_unread_ones_sent_before_the_page_opened_show_once_and_mark_all_read_clears_them(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    verbs = ["sent first", "sent second", "sent third"]
    for verb in verbs:
        producers.notify(recipients=alice, verb=verb, actor=bob)  # the whole pipeline: recorded, fanned out, published
    written = Notification.objects.filter(recipient=alice)
    processes.wait_until(lambda: written.count() == len(verbs), timeout=20, what="the worker's rows")
    # Newest first by id: the worker may write the three in any order.
    rows, newest_first = zip(*written.order_by("-id").values_list("id", "verb"), strict=True)

    page = open_page(alice)  # returns once the widget is live: the first fetch and the socket's catch-up both ran
    widget = Widget(page)
    widget.expect_unread(3)
    widget.open()
    expect(widget.items()).to_have_count(3)
    widget.tab("all").click()
    expect(widget.items("all")).to_have_count(3)
    widget.tab("unread").click()
    for tab in ("unread", "all"):
        ids = widget.ids(tab)
        assert ids == [str(i) for i in rows], f"{tab}: each one exactly once, newest first"
    assert widget.verbs() == list(newest_first) and sorted(newest_first) == sorted(verbs)

    page.get_by_role("button", name="Mark all as read").click()
    expect(widget.items()).to_have_count(0)
    widget.expect_unread(0)
    expect(widget.badge).to_be_hidden()
    expect(page.locator("#herald-root .herald-item.herald-unread")).to_have_count(0)
    assert not Notification.objects.filter(recipient=alice, unread=True).exists()
    page.reload()
    Widget(page).expect_state("live")
    Widget(page).expect_unread(0)


def test_without_javascript_no_connection_state_shows(open_page, make_user, site):
    alice = make_user("alice")
    page = open_page(alice, javascript=False)

    for path in ("/", "/herald/", "/sessions/"):
        page.goto(f"{site}{path}")
        expect(page.locator("a#herald-bell")).to_be_visible()  # the bell is there, as a link
        # No pill, no dot: nothing would ever turn it "live", so nothing says "offline" either.
        state = page.locator("#herald-root .herald-state:visible, #herald-root .herald-state-dot:visible")
        expect(state).to_have_count(0)
        text = page.locator("body").inner_text().lower()  # what is rendered, not what is in the markup
        for word in ("offline", "reconnecting", "signed out"):
            assert word not in text, f"{path}: {word!r} shows without JavaScript"
        dot = page.evaluate("getComputedStyle(document.getElementById('herald-bell'), '::after').content")
        assert dot in ("none", "normal"), f"{path}: the bell carries a state dot ({dot})"

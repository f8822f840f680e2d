"""The notification center widget in a real Chromium, against the real web, worker and pusher processes.

Keyboard, tabs, paging, mark unread, target links, toasts under a burst, and axe-core.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from notifications.models import Notification
from notifications.signals import notify as stock_notify
from playwright.sync_api import Page, expect
from user_sessions.models import Session

from herald_live import producers, wire
from herald_live.actions import read_state
from herald_live.infra import publisher
from herald_live.selectors import notifications as notification_selectors
from herald_live.selectors import sessions as session_selectors
from herald_live.templatetags.herald import safe_target_url
from tests.support.processes import ROOT
from tests.support.widget import Widget

pytestmark = pytest.mark.usefixtures("committed")

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SEND_BUTTON = "form:has(#id_recipient) [type=submit]"


def send(recipient, verb: str, *, actor=None, level: str = "info") -> None:
    """A send through Herald's producer API: recorded here, fanned out by the worker, pushed by the pusher."""
    producers.notify(recipients=recipient, verb=verb, actor=actor, level=level)


def stored(recipient, verbs: list[str], *, actor, unread: bool = True, level: str = "info") -> list[Notification]:
    """Notifications already there when the page opens (written directly: nothing is published)."""
    rows = Notification.objects.bulk_create(
        Notification(recipient=recipient, actor=actor, verb=verb, unread=unread, level=level) for verb in verbs
    )
    return list(Notification.objects.filter(recipient=recipient).order_by("id"))[-len(rows) :]


def focused_inside(page: Page, selector: str) -> bool:
    return page.evaluate("(s) => document.querySelector(s).contains(document.activeElement)", selector)


def test_the_bell_opens_and_closes_by_keyboard_and_focus_returns_to_it(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    stored(alice, ["first", "second"], actor=bob)
    page = open_page(alice)
    widget = Widget(page)

    # The link the server rendered is a button now, labelled with the count.
    assert widget.bell.evaluate("el => el.tagName") == "BUTTON"
    expect(widget.bell).to_have_attribute("aria-expanded", "false")
    expect(widget.bell).to_have_attribute("aria-controls", "herald-panel")
    expect(widget.bell).to_have_attribute("aria-label", "2 unread notifications")
    # The server-rendered items were adopted by the catch-up, not doubled.
    expect(widget.items()).to_have_count(2)
    assert widget.verbs() == ["second", "first"]

    widget.bell.focus()
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.bell).to_have_attribute("aria-expanded", "true")
    expect(widget.tab("unread")).to_be_focused()
    assert focused_inside(page, "#herald-panel")

    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(widget.bell).to_be_focused()
    expect(widget.bell).to_have_attribute("aria-expanded", "false")
    # Keyboard focus is visible.
    assert widget.bell.evaluate("el => getComputedStyle(el).outlineStyle") != "none"

    page.keyboard.press("Space")
    expect(widget.panel).to_be_visible()
    page.keyboard.press("Tab")  # from the tab into the list: Escape still closes
    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(widget.bell).to_be_focused()

    # A click elsewhere closes it too.
    widget.bell.click()
    expect(widget.panel).to_be_visible()
    page.locator("main").click(position={"x": 5, "y": 5})
    expect(widget.panel).to_be_hidden()

    # The widget has exactly one live region, and it is polite.
    regions = page.evaluate(
        """() => [...document.querySelectorAll('[aria-live], [role=status], [role=alert], [role=log]')]
              .filter((el) => el.closest('[id^="herald-"], [class*="herald-"]'))
              .map((el) => [el.id, el.getAttribute('aria-live')])"""
    )
    assert regions == [["herald-announcer", "polite"]]


def test_tabs_are_a_tablist_with_arrow_keys_and_each_has_its_empty_state(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    old = stored(alice, ["seen before"], actor=bob)[0]
    read_state.mark_read(user=alice, notification_id=old.id)
    stored(alice, ["still new"], actor=bob)
    page = open_page(alice)
    widget = Widget(page).open()

    expect(widget.tab("unread")).to_have_attribute("aria-selected", "true")
    expect(widget.items("unread")).to_have_count(1)
    expect(widget.items("unread").first).to_have_class(re.compile(r"\bherald-unread\b"))

    page.keyboard.press("ArrowRight")
    expect(widget.tab("all")).to_be_focused()
    expect(widget.tab("all")).to_have_attribute("aria-selected", "true")
    expect(widget.tab("unread")).to_have_attribute("aria-selected", "false")
    expect(page.locator("#herald-tabpanel-all")).to_be_visible()
    expect(page.locator("#herald-tabpanel-unread")).to_be_hidden()
    expect(widget.items("all")).to_have_count(2)
    assert widget.verbs("all") == ["still new", "seen before"]  # newest first
    expect(widget.item("seen before", "all")).not_to_have_class(re.compile(r"\bherald-unread\b"))
    expect(widget.item("seen before", "all").locator(".herald-toggle")).to_have_attribute(
        "aria-label", "Mark as unread"
    )

    page.keyboard.press("ArrowLeft")
    expect(widget.tab("unread")).to_be_focused()
    expect(widget.tab("unread")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("End")
    expect(widget.tab("all")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Home")
    expect(widget.tab("unread")).to_have_attribute("aria-selected", "true")

    page.get_by_role("button", name="Mark all as read").click()
    expect(widget.items("unread")).to_have_count(0)
    expect(page.locator("#herald-tabpanel-unread .herald-empty")).to_be_visible()
    expect(page.locator("#herald-tabpanel-unread .herald-empty")).to_have_text("You are all caught up.")
    widget.expect_unread(0)
    expect(widget.badge).to_be_hidden()
    expect(widget.bell).to_have_attribute("aria-label", "0 unread notifications")
    widget.tab("all").click()
    expect(widget.items("all")).to_have_count(2)
    expect(page.locator("#herald-tabpanel-all .herald-unread")).to_have_count(0)


def test_load_more_pages_back_twenty_at_a_time_without_duplicates(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    stored(alice, [f"number {i}" for i in range(30)], actor=bob)
    page = open_page(alice)
    widget = Widget(page).open()

    expect(widget.items()).to_have_count(20)
    widget.expect_unread(30)
    expect(widget.more()).to_be_visible()
    widget.more().click()
    expect(widget.items()).to_have_count(30)
    expect(widget.more()).to_be_hidden()
    ids = [int(i) for i in widget.ids()]
    assert ids == sorted(set(ids), reverse=True)
    assert widget.verbs() == [f"number {i}" for i in reversed(range(30))]

    widget.tab("all").click()
    expect(widget.items("all")).to_have_count(20)
    widget.more("all").click()
    expect(widget.items("all")).to_have_count(30)
    expect(widget.more("all")).to_be_hidden()

    # A live one after paging lands on top of both tabs, once.
    send(alice, "number 30", actor=bob)
    expect(widget.items("all")).to_have_count(31)
    expect(widget.items("unread")).to_have_count(31)
    assert widget.verbs("all")[0] == "number 30"
    ids = [int(i) for i in widget.ids("all")]
    assert ids == sorted(set(ids), reverse=True)
    widget.expect_unread(31)


def test_mark_one_unread_again_is_live_in_another_tab(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    first, second = open_page(alice), open_page(alice)
    mine, other = Widget(first), Widget(second)
    send(alice, "come back to this", actor=bob)
    for widget in (mine, other):
        expect(widget.items()).to_have_count(1)
        widget.expect_unread(1)

    mine.open()
    mine.item("come back to this").get_by_role("button", name="Mark as read").click()
    for widget in (mine, other):
        expect(widget.items()).to_have_count(0)
        widget.expect_unread(0)

    mine.tab("all").click()
    mine.item("come back to this", "all").get_by_role("button", name="Mark as unread").click()

    for widget in (mine, other):
        widget.expect_unread(1)
        expect(widget.item("come back to this")).to_have_count(1)
    expect(mine.item("come back to this", "all")).to_have_class(re.compile(r"\bherald-unread\b"))
    assert Notification.objects.get(recipient=alice).unread is True
    # The other tab shows it where it belongs when opened.
    other.open()
    expect(other.item("come back to this")).to_be_visible()


def test_a_deleted_notification_leaves_every_tab_and_the_count(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    widgets = [Widget(open_page(alice)), Widget(open_page(alice))]
    send(alice, "stays", actor=bob)
    send(alice, "goes away", actor=bob)
    for widget in widgets:
        expect(widget.items()).to_have_count(2)
    widgets[0].open()
    widgets[0].tab("all").click()
    expect(widgets[0].items("all")).to_have_count(2)

    # Soft-deleted by the host's code (django-notifications' model, saved): Herald's signal tells every session.
    # (A hard .delete() is not watched, so that cascades stay fast; the stock delete view is wrapped instead:
    # tests/system/test_stock_notifications.py.)
    row = Notification.objects.get(recipient=alice, verb="goes away")
    row.deleted = True
    row.save()

    for widget in widgets:
        expect(widget.item("goes away")).to_have_count(0)
        widget.expect_unread(1)
    expect(widgets[0].items("all")).to_have_count(1)


def test_a_target_link_marks_the_notification_read_then_navigates(open_page, make_user, site):
    alice, bob = make_user("alice"), make_user("bob")
    page, elsewhere = open_page(alice), open_page(alice)
    group = Group.objects.create(name=f"Team {uuid.uuid4().hex[:6]}")
    # Stock django-notifications, as a host's code calls it: a target with get_absolute_url.
    stock_notify.send(bob, recipient=alice, verb="added you to", target=group)
    widget = Widget(page)
    expect(widget.items()).to_have_count(1)

    widget.open()
    link = widget.items().first.locator("a.herald-target")
    expect(link).to_have_text(group.name)
    expect(link).to_have_attribute("href", f"{site}/sessions/?group={group.pk}")
    link.click()

    expect(page).to_have_url(f"{site}/sessions/?group={group.pk}")
    Widget(page).expect_unread(0)
    Widget(elsewhere).expect_unread(0)
    expect(Widget(elsewhere).items()).to_have_count(0)
    assert Notification.objects.get(recipient=alice).unread is False


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("/projects/1/", "/projects/1/"),
        ("projects/1/", "projects/1/"),
        ("https://example.com/a?b=c", "https://example.com/a?b=c"),
        ("javascript:alert(1)", None),
        (" JavaScript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("//evil.example/", None),
        ("/\\evil.example/", None),
        ("", None),
        (None, None),
    ],
)
def test_only_http_and_same_site_target_urls_become_links(url, safe):
    assert safe_target_url(url) == safe


def test_a_burst_of_twenty_shows_three_toasts_and_every_control_stays_clickable(open_page, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    page = open_page(alice)
    widget = Widget(page)

    levels = ("info", "success", "warning", "error")
    send(alice, "burst 0", actor=bob)
    expect(widget.toasts).to_have_count(1)
    # Hovering pauses the auto-hide, and so does focus in the stack: with it, no toast hides on its own
    # however slowly the burst arrives, and "+N more" counts exactly.
    widget.toasts.first.hover()
    expect(page.locator("#herald-toasts")).to_have_attribute("data-herald-paused", "true")
    widget.toasts.first.get_by_role("button", name="Dismiss").focus()
    for i in range(1, 20):
        send(alice, f"burst {i}", actor=bob, level=levels[i % 4])
        assert widget.toasts.count() <= 3

    widget.expect_unread(20, timeout=20_000)
    expect(widget.toasts).to_have_count(3)
    expect(widget.more_toasts).to_be_visible()
    expect(widget.more_toasts).to_have_accessible_name("+17 more new notifications: open the panel")
    expect(widget.more_toasts).to_have_text(re.compile(r"^\+17 more"))
    toast_ids = [t.get_attribute("data-herald-id") for t in widget.toasts.all()]
    assert len(set(toast_ids)) == 3

    # The stack takes no clicks of its own; the navbar and the page's controls stay usable.
    assert page.eval_on_selector("#herald-toasts", "el => getComputedStyle(el).pointerEvents") == "none"
    navbar = page.locator("nav.navbar").bounding_box()
    for toast in widget.toasts.all():
        assert toast.bounding_box()["y"] >= navbar["y"] + navbar["height"], "a toast covers the navbar"
    controls = {
        "brand": page.locator("nav a.navbar-brand"),
        "sessions link": page.get_by_role("link", name="Sessions"),
        "log out": page.get_by_role("button", name="Log out"),
        "bell": widget.bell,
        "send button": page.locator(SEND_BUTTON),
    }
    for name, control in controls.items():
        expect(control, f"{name} is visible").to_be_visible()
        control.click(trial=True, timeout=3_000)  # Playwright's actionability check: it would get the click
        hit = control.evaluate(
            """(el) => { const r = el.getBoundingClientRect();
                         const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                         return el === hit || el.contains(hit); }"""
        )
        assert hit, f"the {name} is covered"

    # A toast is dismissed by its button; focus stays in the stack.
    expect(page.locator("#herald-toasts")).to_have_attribute("data-herald-paused", "true")
    widget.toasts.first.get_by_role("button", name="Dismiss").click()
    expect(widget.toasts).to_have_count(2)
    assert focused_inside(page, "#herald-toasts")

    # "+N more" opens the panel, which shows them all; the toasts give way.
    widget.more_toasts.click()
    expect(widget.panel).to_be_visible()
    expect(widget.toasts).to_have_count(0)
    expect(widget.items()).to_have_count(20)
    expect(widget.announcer).to_contain_text("20 unread notifications")


def test_times_are_relative_in_the_browsers_locale(browser, site, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    stored(alice, ["auf Deutsch"], actor=bob)
    context = browser.new_context(locale="de-DE", timezone_id="Europe/Berlin")
    try:
        page = context.new_page()
        page.goto(f"{site}/accounts/login/")
        page.fill("input[name=username]", alice.username)
        page.fill("input[name=password]", alice.raw_password)
        page.click("form button[type=submit]")
        widget = Widget(page)
        widget.expect_state("live")
        time = widget.items().first.locator("time")
        expect(time).to_have_text(re.compile(r"^(jetzt|vor \d+ (Sekunden|Minuten?))$"))
        expect(time).to_have_attribute("title", re.compile(r"\d{4}"))
    finally:
        context.close()


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_axe_finds_no_serious_violation_on_the_home_page_with_the_panel_open(open_page, make_user, color_scheme):
    assert AXE.exists(), "axe-core is missing: run `make deps` (npm ci)"
    alice, bob = make_user("alice"), make_user("bob")
    group = Group.objects.create(name=f"Axe {uuid.uuid4().hex[:6]}")
    stored(alice, ["read already"], actor=bob, unread=False)
    stored(alice, ["a warning"], actor=bob, level="warning")
    stored(alice, ["an error"], actor=bob, level="error")
    stock_notify.send(bob, recipient=alice, verb="shared", target=group, level="success")
    page = open_page(alice, color_scheme=color_scheme)
    widget = Widget(page)
    expect(widget.items()).to_have_count(3)
    widget.open()

    # Through the DevTools protocol, not a <script> element: the site's CSP (web/csp.py) refuses inline ones.
    page.evaluate(AXE.read_text())
    results = page.evaluate(
        """async () => {
             const result = await axe.run(document, { resultTypes: ["violations"] });
             return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                                                    nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
           }"""
    )
    print(f"axe-core violations ({color_scheme}):", json.dumps(results, indent=2))
    serious = [v for v in results if v["impact"] in ("serious", "critical")]
    assert serious == [], f"serious or critical accessibility violations: {serious}"


def test_toasts_never_cover_a_lists_controls_for_good(open_page, make_user, site):
    alice, bob = make_user("alice"), make_user("bob")
    for i in range(14):  # a long list whose last rows sit where the toasts are
        Session.objects.create(
            session_key=f"{alice.pk:08d}{i:02d}".ljust(32, "x"),
            session_data="",
            user=alice,
            user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0",
            ip="127.0.0.1",
            expire_date=timezone.now() + timedelta(days=1),
        )
    page = open_page(alice)
    page.goto(f"{site}/sessions/")
    widget = Widget(page)
    widget.expect_state("live")
    send(alice, "burst 0", actor=bob)
    expect(widget.toasts).to_have_count(1)
    widget.toasts.first.hover()  # paused: the stack stays while every control is tried
    for i in range(1, 8):
        send(alice, f"burst {i}", actor=bob)
    widget.expect_unread(8, timeout=20_000)
    expect(widget.toasts).to_have_count(3)
    page.mouse.move(5, 5)

    buttons = page.locator("#sessions button")
    expect(buttons).to_have_count(14)
    for number, button in enumerate(buttons.all()):
        button.click(trial=True, timeout=3_000)  # Playwright scrolls it where nothing covers it, if it can
        hit = button.evaluate(
            """(el) => { const r = el.getBoundingClientRect();
                         const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                         return el === hit || el.contains(hit); }"""
        )
        assert hit, f"row {number}'s Log out is covered"


def test_a_burst_that_arrives_out_of_order_is_stacked_newest_first(open_page, make_user):
    """A burst's notifications come from several chunks and drains, in any order: the stack reads by id, newest
    first, as the panel does, and the oldest fold into "+N more" whenever they arrive."""
    alice, bob = make_user("alice"), make_user("bob")
    page = open_page(alice)
    widget = Widget(page)
    rows = stored(alice, [f"burst {i}" for i in range(4)], actor=bob)  # written, nothing published yet
    rooms = session_selectors.live_session_rooms(user_ids=[alice.pk])[alice.pk]

    for count, row in enumerate((rows[1], rows[3], rows[2], rows[0]), start=1):
        envelope = wire.notification_created(notification_selectors.serialize_notification(row))
        publisher.emit_to_rooms(rooms=rooms, payload=envelope)
        widget.expect_unread(count)

    expect(widget.toasts).to_have_count(3)
    assert [t.get_attribute("data-herald-id") for t in widget.toasts.all()] == [str(r.pk) for r in rows[:0:-1]]
    expect(widget.more_toasts).to_have_text(re.compile(r"^\+1 more"))

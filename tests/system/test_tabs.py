"""One connection per browser: the tabs of one browser share one socket (docs/browser.md).

Each ``BrowserTabs`` is one Chromium context (one cookie jar, so one Django session; one origin's Web Locks and
BroadcastChannels), its tabs opened with ``context.new_page()``. Sockets are counted twice: the socket.io
websockets each tab opened (Playwright), and the pusher's ``herald_pusher_sockets`` gauge. The pusher is this
module's own (``pusher_process`` is module-scoped), so once the previous test's contexts are closed it holds none.
"""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import Page, expect

from herald_live import producers, wire
from tests.support import processes
from tests.support.clients import WebSession
from tests.support.metrics import metric
from tests.support.widget import BrowserTabs, Widget

pytestmark = pytest.mark.usefixtures("committed")

NO_WEB_LOCKS = "delete Navigator.prototype.locks;"


@pytest.fixture
def browser_of(browser, site, pusher_process):
    """Opens browsers (contexts) with a logged-in first tab; the pusher holds no socket when the test starts."""
    processes.wait_until(lambda: pusher_sockets(pusher_process) == 0, timeout=20, what="the pusher to hold no socket")
    opened: list[BrowserTabs] = []

    def open_browser(user, *, tabs: int, init_script: str | None = None) -> BrowserTabs:
        tabbed = BrowserTabs(browser, site, init_script=init_script)
        opened.append(tabbed)
        tabbed.log_in(user)
        for _ in range(tabs - 1):
            tabbed.new_tab()
        tabbed.expect_live()
        return tabbed

    yield open_browser
    for tabbed in opened:
        tabbed.close()


def pusher_sockets(pusher) -> int:
    return int(metric(requests.get(pusher.metrics_url, timeout=5).text, "herald_pusher_sockets"))


def expect_pusher_sockets(pusher, count: int) -> None:
    processes.wait_until(lambda: pusher_sockets(pusher) == count, timeout=15, what=f"{count} socket(s) at the pusher")


def role(page: Page) -> str | None:
    return page.locator("#herald-root").get_attribute("data-herald-socket")


def expect_once(widget: Widget, verb: str, *, unread: int) -> None:
    # Generous: the machine is shared, and a hand-over or a catch-up may come first.
    expect(widget.item(verb)).to_have_count(1, timeout=15_000)
    widget.expect_unread(unread, timeout=15_000)
    ids = widget.ids()
    assert len(ids) == len(set(ids)), ids


def test_five_tabs_of_one_browser_make_one_socket_and_each_shows_a_notification_once(
    browser_of, make_user, pusher_process
):
    alice, bob = make_user("alice"), make_user("bob")
    tabbed = browser_of(alice, tabs=5)

    assert tabbed.open_sockets() == 1, [tabbed.opened(page) for page in tabbed.tabs]
    expect_pusher_sockets(pusher_process, 1)
    assert sorted(role(page) for page in tabbed.tabs) == ["follower"] * 4 + ["leader"]

    producers.notify(recipients=alice, verb="one for all five", actor=bob)

    for page in tabbed.tabs:
        widget = Widget(page)
        expect_once(widget, "one for all five", unread=1)
        expect(widget.toasts.filter(has_text="one for all five")).to_have_count(1)
    # Nothing arrived twice, and nobody opened a second socket meanwhile.
    for page in tabbed.tabs:
        expect_once(Widget(page), "one for all five", unread=1)
    assert tabbed.open_sockets() == 1
    assert pusher_sockets(pusher_process) == 1


def test_closing_the_leader_tab_moves_the_socket_to_another_and_loses_or_doubles_nothing(
    browser_of, make_user, pusher_process
):
    alice, bob = make_user("alice"), make_user("bob")
    tabbed = browser_of(alice, tabs=5)
    producers.notify(recipients=alice, verb="before", actor=bob)
    for page in tabbed.tabs:
        expect_once(Widget(page), "before", unread=1)
    leaders = [page for page in tabbed.tabs if tabbed.opened(page)]
    assert len(leaders) == 1, [tabbed.opened(page) for page in tabbed.tabs]
    assert role(leaders[0]) == "leader"

    leaders[0].close()
    producers.notify(recipients=alice, verb="during the hand-over", actor=bob)

    remaining = tabbed.tabs
    assert len(remaining) == 4
    tabbed.expect_live()
    for page in remaining:
        expect_once(Widget(page), "during the hand-over", unread=2)
    producers.notify(recipients=alice, verb="after", actor=bob)
    for page in remaining:
        widget = Widget(page)
        expect_once(widget, "after", unread=3)
        assert widget.verbs() == ["after", "during the hand-over", "before"]
        expect(widget.toasts.filter(has_text="after")).to_have_count(1)
    # Exactly one of the others took the socket over.
    assert sorted(tabbed.opened(page) for page in remaining) == [0, 0, 0, 1]
    assert sorted(role(page) for page in remaining) == ["follower"] * 3 + ["leader"]
    assert tabbed.open_sockets() == 1
    expect_pusher_sockets(pusher_process, 1)


def test_marking_read_in_one_tab_clears_it_in_the_others(browser_of, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    tabbed = browser_of(alice, tabs=3)
    assert tabbed.open_sockets() == 1
    for verb in ("first", "second", "third"):
        producers.notify(recipients=alice, verb=verb, actor=bob)
    widgets = [Widget(page) for page in tabbed.tabs]
    for widget in widgets:
        expect(widget.items()).to_have_count(3)
        widget.expect_unread(3)
    follower = next(w for w in widgets if role(w.page) == "follower")
    leader = next(w for w in widgets if role(w.page) == "leader")

    follower.open().item("second").get_by_role("button", name="Mark as read").click()
    for widget in widgets:
        expect(widget.item("second")).to_have_count(0)
        widget.expect_unread(2)

    leader.open().item("third").get_by_role("button", name="Mark as read").click()
    for widget in widgets:
        expect(widget.item("third")).to_have_count(0)
        widget.expect_unread(1)

    follower.page.get_by_role("button", name="Mark all as read").click()
    for widget in widgets:
        expect(widget.items()).to_have_count(0)
        widget.expect_unread(0)
    assert tabbed.open_sockets() == 1


def test_without_web_locks_each_tab_keeps_a_socket_of_its_own(browser_of, make_user, pusher_process):
    alice, bob = make_user("alice"), make_user("bob")
    tabbed = browser_of(alice, tabs=3, init_script=NO_WEB_LOCKS)

    assert [tabbed.opened(page) for page in tabbed.tabs] == [1, 1, 1]
    assert [role(page) for page in tabbed.tabs] == ["own"] * 3
    expect_pusher_sockets(pusher_process, 3)
    producers.notify(recipients=alice, verb="to every socket", actor=bob)
    widgets = [Widget(page) for page in tabbed.tabs]
    for widget in widgets:
        expect_once(widget, "to every socket", unread=1)
    widgets[1].open().item("to every socket").get_by_role("button", name="Mark as read").click()
    for widget in widgets:
        widget.expect_unread(0)


def test_after_a_logout_the_next_user_of_the_browser_gets_nothing_of_the_previous_one(browser_of, make_user, site):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    tabbed = browser_of(alice, tabs=2)
    leaving, stale = tabbed.tabs

    leaving.get_by_role("button", name="Log out").click()
    expect(leaving).to_have_url(f"{site}/accounts/login/")
    # The other tab of alice's session finds out (whichever of the two held the socket).
    Widget(stale).expect_state("signed-out")
    leaving.fill("input[name=username]", bob.username)
    leaving.fill("input[name=password]", bob.raw_password)
    leaving.click("form button[type=submit]")
    expect(leaving).to_have_url(f"{site}/")
    bobs = Widget(leaving)
    bobs.expect_state("live")
    assert role(leaving) == "leader"  # bob's session is a group of its own: nobody else holds its socket

    alices_other_browser = Widget(browser_of(alice, tabs=1).tabs[0])

    producers.notify(recipients=alice, verb="for alice only", actor=carol)
    producers.notify(recipients=bob, verb="for bob", actor=carol)

    expect_once(alices_other_browser, "for alice only", unread=1)  # delivered by now
    expect_once(bobs, "for bob", unread=1)
    expect(bobs.item("for alice only")).to_have_count(0)
    expect(bobs.toasts.filter(has_text="for alice only")).to_have_count(0)
    expect(Widget(stale).items()).to_have_count(0)
    Widget(stale).expect_state("signed-out")


def test_the_group_names_one_session_of_one_user_and_reveals_neither(site, make_user):
    alice = make_user("alice")
    sessions = [WebSession(site, alice.username, alice.raw_password) for _ in range(2)]

    def group(session: WebSession) -> str:
        html = session.http.get(f"{site}/", timeout=10).text
        assert session.session_key and session.session_key not in html
        assert wire.session_digest(session.session_key) not in html
        return re.search(r'data-tab-group="([0-9a-f]{32})"', html).group(1)

    first = group(sessions[0])
    assert group(sessions[0]) == first  # every page of the session: the same group
    assert group(sessions[1]) != first  # another session (another browser, or a later login): another one

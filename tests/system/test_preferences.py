"""Preferences through the real pipeline (web, Celery worker, Redis, pusher) and the page in a real Chromium."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from notifications.models import Notification
from playwright.sync_api import expect

from herald_live import producers, wire
from herald_live.models import ChannelPreference, DeliverySettings, Event, Mute
from tests.support.clients import LiveSocket, WebSession
from tests.support.processes import ROOT, wait_until
from tests.support.widget import Widget

pytestmark = pytest.mark.usefixtures("committed")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def created_verbs(socket: LiveSocket) -> list[str]:
    return [n["verb"] for n in socket.of_type(wire.NOTIFICATION_CREATED)]


def change_preferences(session: WebSession, body: dict) -> dict:
    response = session.http.patch(
        f"{session.base_url}/herald/notifications/preferences/",
        json=body,
        headers={"Accept": "application/json", "X-CSRFToken": session.csrf},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def done(event_id: int) -> Event:
    return wait_until(
        lambda: (event := Event.objects.get(pk=event_id)).status == Event.Status.DONE and event,
        timeout=20,
        what=f"event {event_id} done",
    )


def test_a_muted_user_and_an_in_app_off_user_get_no_row_and_no_live_message(
    worker_process, pusher_process, web_process, sockets, make_user
):
    normal, muted, off = make_user("normal"), make_user("muted"), make_user("off")
    sessions = {user: WebSession(web_process.url, user.username, user.raw_password) for user in (normal, muted, off)}
    live = {user: sockets(session, pusher_process.url) for user, session in sessions.items()}
    thread = Group.objects.create(name=f"thread {uuid.uuid4().hex[:8]}")
    everybody = [normal, muted, off]

    done(producers.notify(recipients=everybody, verb="first in thread", target=thread))
    for socket in live.values():
        socket.wait_for(lambda s: created_verbs(s) == ["first in thread"])
    # As the browser does it: muted mutes the thread from its notification, off turns messages off in the site.
    first_of_muted = live[muted].of_type(wire.NOTIFICATION_CREATED)[0]["id"]
    muting = sessions[muted].post("/herald/notifications/mutes/", {"notification_id": first_of_muted})
    assert muting.status_code == 201, muting.text
    assert (
        change_preferences(sessions[off], {"types": {"herald.message": {"in_app": False}}})["types"][0]["channels"][
            "in_app"
        ]
        is False
    )

    second = done(producers.notify(recipients=everybody, verb="second in thread", target=thread))

    live[normal].wait_for(lambda s: created_verbs(s) == ["first in thread", "second in thread"])
    assert list(Notification.objects.filter(verb="second in thread").values_list("recipient", flat=True)) == [normal.pk]
    assert (second.recipients_count, second.rows_persisted) == (1, 1)
    # Each socket is live and hears what it should: the muted one something about nothing muted, the off one
    # a message once it turned the site back on. Nothing of the second send reached either, before or since.
    done(producers.notify(recipients=[muted], verb="not about the thread"))
    live[muted].wait_for(lambda s: created_verbs(s) == ["first in thread", "not about the thread"])
    change_preferences(sessions[off], {"types": {"herald.message": {"in_app": True}}})
    done(producers.notify(recipients=[off], verb="back on"))
    live[off].wait_for(lambda s: created_verbs(s) == ["first in thread", "back on"])
    assert created_verbs(live[normal]) == ["first in thread", "second in thread"]


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_the_preferences_page_keeps_what_was_saved(open_page, site, make_user, javascript):
    alice = make_user("alice")
    page = open_page(alice, javascript=javascript)
    page.goto(f"{site}/herald/preferences/")
    in_site = page.get_by_label("Messages: In the site")
    push = page.get_by_label("Messages: Web push")
    expect(in_site).to_be_checked()
    expect(push).to_be_enabled()

    in_site.uncheck()
    if javascript:
        expect(push).to_be_disabled()  # at once: push and email need the row
    page.select_option("#herald-email-digest", "daily")
    page.get_by_role("button", name="Save preferences").click()

    expect(page).to_have_url(f"{site}/herald/preferences/?saved=1")
    expect(page.get_by_role("status").filter(has_text="Your preferences are saved.")).to_be_visible()
    page.reload()
    expect(in_site).not_to_be_checked()
    expect(push).to_be_disabled()
    expect(push).to_be_checked()  # kept for when the site is back on
    expect(page.locator("#herald-email-digest")).to_have_value("daily")
    assert list(ChannelPreference.objects.filter(user=alice).values_list("channel", "enabled")) == [("in_app", False)]
    assert DeliverySettings.objects.get(user=alice).email_digest == "daily"

    in_site.check()
    if javascript:
        expect(push).to_be_enabled()
    page.get_by_role("button", name="Save preferences").click()
    expect(page).to_have_url(f"{site}/herald/preferences/?saved=1")
    page.reload()
    expect(in_site).to_be_checked()
    expect(push).to_be_enabled()
    assert not ChannelPreference.objects.filter(user=alice).exists()


def test_mute_from_the_panel_then_unmute_on_the_preferences_page(open_page, site, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    thread = Group.objects.create(name=f"Thread {uuid.uuid4().hex[:6]}")
    page = open_page(alice)
    widget = Widget(page)
    producers.notify(recipients=[alice], actor=bob, verb="replied in", target=thread)
    producers.notify(recipients=[alice], actor=bob, verb="waved")
    widget.open()
    expect(widget.items()).to_have_count(2)
    expect(widget.item("waved").locator(".herald-mute")).to_have_count(0)  # about nothing: nothing to mute

    widget.item("replied in").locator(".herald-mute").click()

    expect(widget.item("replied in").locator(".herald-mute")).to_have_text("Muted")
    expect(widget.item("replied in").locator(".herald-mute")).to_be_disabled()
    assert Mute.objects.get(user=alice).target == thread
    again = producers.notify(recipients=[alice], actor=bob, verb="replied again in", target=thread)
    producers.notify(recipients=[alice], actor=bob, verb="marker")
    expect(widget.items()).to_have_count(3)
    wait_until(lambda: Event.objects.get(pk=again).status == Event.Status.DONE, timeout=20, what="the muted send")
    assert widget.verbs() == ["marker", "waved", "replied in"]
    assert not Notification.objects.filter(recipient=alice, verb="replied again in").exists()

    page.get_by_role("link", name="Preferences", exact=True).click()
    expect(page).to_have_url(f"{site}/herald/preferences/")
    muted = page.locator(".herald-preferences-mutes li", has_text=thread.name)
    expect(muted).to_contain_text("for ever")
    muted.get_by_role("button", name="Unmute").click()

    expect(page.get_by_role("status").filter(has_text="Unmuted.")).to_be_visible()
    expect(page.locator(".herald-preferences-mutes")).to_have_count(0)
    assert not Mute.objects.filter(user=alice).exists()


def test_axe_finds_no_serious_violation_on_the_preferences_page(open_page, site, make_user):
    assert AXE.exists(), "axe-core is missing: run `make deps` (npm ci)"
    alice = make_user("alice")
    mute_target = Group.objects.create(name=f"Axe {uuid.uuid4().hex[:6]}")
    Mute.objects.create(
        user=alice, target_content_type=ContentType.objects.get_for_model(Group), target_object_id=str(mute_target.pk)
    )
    page = open_page(alice)
    page.goto(f"{site}/herald/preferences/")
    page.get_by_label("Messages: In the site").uncheck()  # disabled boxes too

    page.evaluate(AXE.read_text())
    results = page.evaluate(
        """async () => (await axe.run(document, { resultTypes: ["violations"] })).violations
             .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }))"""
    )
    serious = [v for v in results if v["impact"] in ("serious", "critical")]
    assert serious == [], f"serious or critical accessibility violations: {serious}"

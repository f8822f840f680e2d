"""send.js in a real Chromium against the real web process: suggestions while typing, everyone as a
separate choice, and a send without a reload."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import Page, expect

from herald_live.models import Event
from tests.support.browser import log_in

pytestmark = pytest.mark.usefixtures("committed")


@pytest.fixture
def logged_in(browser, web_process):
    contexts = []

    def open_as(user) -> Page:
        context, page = log_in(browser, web_process.url, user)
        contexts.append(context)
        return page

    yield open_as
    for context in contexts:
        context.close()


def suggestions(page: Page):
    return page.locator("#recipient-suggestions option")


def test_typing_suggests_matching_usernames_and_the_form_sends_in_place(logged_in, make_user, web_process):
    tag = uuid.uuid4().hex[:6]
    picks = [make_user(f"pick{tag}") for _ in range(3)]
    make_user(f"other{tag}")
    page = logged_in(make_user("sender"))

    page.fill("#id_recipient", f"PICK{tag}")

    expect(suggestions(page)).to_have_count(3)
    offered = suggestions(page).evaluate_all("options => options.map((o) => o.value)")
    assert sorted(offered) == sorted(user.username for user in picks)
    assert page.locator("#id_everyone").count() == 0, "this sender may not send to everyone"

    page.fill("#id_recipient", picks[1].username)
    page.fill("#id_message", "picked from the suggestions")
    page.click("#send-form button[type=submit]")

    expect(page.locator("#send-status")).to_have_text("Sent.")
    expect(page.locator(".alert")).to_have_count(0)  # the plain form's answer would be a redirect and an alert
    assert page.url == f"{web_process.url}/"
    assert Event.objects.get(verb="picked from the suggestions").recipient == picks[1]


def test_ticking_everyone_takes_the_recipient_out_of_the_form(logged_in, make_user):
    sender = make_user("announcer")
    sender.user_permissions.add(Permission.objects.get(codename="send_to_everyone"))
    page = logged_in(sender)
    everyone, recipient = page.locator("#id_everyone"), page.locator("#id_recipient")

    expect(everyone).not_to_be_checked()
    recipient.fill("somebody")
    everyone.check()
    expect(recipient).to_be_disabled()
    sent = page.evaluate("[...new FormData(document.getElementById('send-form')).keys()]")
    everyone.uncheck()

    assert "recipient" not in sent and "everyone" in sent
    expect(recipient).to_be_enabled()
    expect(recipient).to_have_value("somebody")

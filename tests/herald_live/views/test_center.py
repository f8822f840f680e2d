"""The notification center's JSON API and actions, called as the widget (and a page without JavaScript) calls them."""

from __future__ import annotations

import pytest
from notifications.models import Notification
from notifications.signals import notify

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def inbox(alice, bob):
    """25 notifications for alice, the 5 oldest read; ids oldest first."""
    for number in range(25):
        notify.send(bob, recipient=alice, verb=f"note {number}")
    ids = list(Notification.objects.filter(recipient=alice).order_by("id").values_list("id", flat=True))
    Notification.objects.filter(id__in=ids[:5]).update(unread=False)
    return ids


def test_pages_go_back_newest_first_without_gaps_or_doubles(as_alice, inbox):
    seen, before = [], None
    while True:
        page = as_alice.get(
            "/herald/notifications/", {"filter": "all", "limit": 10, **({"before": before} if before else {})}
        )
        assert page.status_code == 200
        body = page.json()
        seen += [item["id"] for item in body["notifications"]]
        assert body["unread_count"] == 20 and body["last_id"] == inbox[-1]
        if not body["has_more"]:
            break
        before = body["notifications"][-1]["id"]
    assert seen == inbox[::-1]


def test_the_unread_tab_lists_unread_only_and_the_default_page_size(as_alice, inbox, settings):
    settings.HERALD_PAGE_SIZE = 7
    body = as_alice.get("/herald/notifications/").json()
    assert [item["id"] for item in body["notifications"]] == inbox[::-1][:7]
    assert all(item["unread"] for item in body["notifications"])
    assert body["has_more"] is True
    item = body["notifications"][0]
    assert set(item) == {"id", "verb", "level", "actor", "target", "description", "timestamp", "unread"}
    assert item["actor"] == "bob"


def test_a_huge_limit_is_capped(as_alice, inbox):
    body = as_alice.get("/herald/notifications/", {"filter": "all", "limit": 100000}).json()
    assert len(body["notifications"]) == 25


@pytest.mark.parametrize(
    "params",
    [{"filter": "everything"}, {"before": "-3"}, {"before": "x"}, {"limit": "1e3"}, {"before": "9" * 40}],
)
def test_bad_paging_parameters_get_a_json_400_whatever_the_accept_header(as_alice, params):
    response = as_alice.get("/herald/notifications/", params)  # a browser's Accept: no application/json
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]


def test_the_json_endpoints_answer_anonymous_callers_with_json_401(client):
    for path in ("/herald/notifications/", "/herald/notifications/state/", "/herald/socket-token/"):
        response = client.get(path)
        assert (response.status_code, response["Content-Type"]) == (401, "application/json"), path


def test_mark_unread_brings_a_read_notification_back_with_its_payload(as_alice, inbox):
    response = as_alice.post(f"/herald/notifications/{inbox[0]}/unread/", **JSON)
    assert response.status_code == 200
    assert response.json()["id"] == inbox[0] and response.json()["unread"] is True
    assert Notification.objects.get(id=inbox[0]).unread


def test_nobody_marks_another_users_notification(client, bob, inbox):
    client.force_login(bob)
    for action in ("read", "unread"):
        response = client.post(f"/herald/notifications/{inbox[3]}/{action}/", **JSON)
        assert response.status_code == 404
    assert Notification.objects.get(id=inbox[3]).unread is False


def test_without_javascript_an_action_returns_to_its_page_on_this_site_only(as_alice, inbox):
    back = as_alice.post(f"/herald/notifications/{inbox[-1]}/read/", {"next": "/herald/"})
    assert (back.status_code, back["Location"]) == (302, "/herald/")
    away = as_alice.post(f"/herald/notifications/{inbox[-2]}/read/", {"next": "https://evil.example/"})
    assert away.status_code == 302 and not away["Location"].startswith("https://evil.example")
    assert Notification.objects.filter(id__in=inbox[-2:], unread=False).count() == 2

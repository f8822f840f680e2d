"""Every refusal is a clear answer: JSON to JSON clients, a CSRF failure included (herald_live/infra/http.py).

The site's CSRF_FAILURE_VIEW is an HTML page (Django's own here): a script that sent JSON must not have to parse it.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from notifications.models import Notification

from herald_live.models import ChannelPreference, PushSubscription

pytestmark = pytest.mark.django_db

TYPES = json.dumps({"types": {"herald.message": {"in_app": False}}})


@pytest.fixture
def strict(django_user_model, settings):
    """A logged-in client that gets no CSRF pass, on a site with Django's own (HTML) CSRF failure page."""
    settings.CSRF_FAILURE_VIEW = "django.views.csrf.csrf_failure"
    client = Client(enforce_csrf_checks=True)
    client.user = django_user_model.objects.create_user("alice")
    client.force_login(client.user)
    return client


def refused_as_json(response) -> str:
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    return response.json()["error"]


@pytest.mark.parametrize("method", ["patch", "put"])
def test_the_preferences_api_refuses_a_missing_token_in_json_and_changes_nothing(strict, method):
    response = getattr(strict, method)("/herald/notifications/preferences/", TYPES, content_type="application/json")

    assert "CSRF token" in refused_as_json(response)
    assert not ChannelPreference.objects.exists()


def test_a_json_body_gets_json_whatever_its_accept_header(strict):
    row = Notification.objects.create(recipient=strict.user, actor=strict.user, verb="x")
    response = strict.post(
        "/herald/notifications/mutes/", json.dumps({"notification_id": row.pk}), content_type="application/json"
    )
    assert "CSRF token" in refused_as_json(response)


def test_json_actions_and_push_subscriptions_refuse_in_json(strict, settings):
    row = Notification.objects.create(recipient=strict.user, actor=strict.user, verb="x")
    settings.HERALD_VAPID_PUBLIC_KEY = settings.HERALD_VAPID_PRIVATE_KEY = "x"
    settings.HERALD_VAPID_SUBJECT = "mailto:ops@example.com"

    for path in (f"/herald/notifications/{row.pk}/read/", "/herald/notifications/read-all/"):
        assert "CSRF token" in refused_as_json(strict.post(path, HTTP_ACCEPT="application/json"))
    assert "CSRF token" in refused_as_json(
        strict.post("/herald/push/subscriptions/", "{}", content_type="application/json")
    )
    row.refresh_from_db()
    assert row.unread and not PushSubscription.objects.exists()


def test_a_plain_form_post_still_gets_the_sites_own_failure_page(strict):
    row = Notification.objects.create(recipient=strict.user, actor=strict.user, verb="x")

    response = strict.post(f"/herald/notifications/{row.pk}/read/", {"next": "/"})

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html") and b"CSRF verification failed" in response.content
    row.refresh_from_db()
    assert row.unread


def test_with_the_token_the_same_requests_go_through(strict):
    strict.get("/herald/preferences/")  # sets the CSRF cookie, as any page of the site does
    token = strict.cookies["csrftoken"].value
    response = strict.patch(
        "/herald/notifications/preferences/", TYPES, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200
    assert ChannelPreference.objects.filter(user=strict.user, enabled=False).exists()

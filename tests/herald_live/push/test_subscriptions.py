"""A browser's web push subscription: stored, checked, listed, removed (push/views.py, push/subscriptions.py)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.test import Client

from herald_live import checks, wire
from herald_live.models import PushSubscription
from herald_live.push import vapid
from tests.herald_live.views.test_api import documented
from tests.support.push_service import BrowserKeys, b64url

pytestmark = pytest.mark.django_db
URL = "/herald/push/subscriptions/"
FCM = "https://fcm.googleapis.com/fcm/send/"


@pytest.fixture(scope="module")
def site_keys() -> vapid.KeyPair:
    return vapid.generate()


@pytest.fixture(autouse=True)
def push_on(settings, site_keys):
    settings.HERALD_VAPID_PUBLIC_KEY = site_keys.public_key
    settings.HERALD_VAPID_PRIVATE_KEY = site_keys.private_key
    settings.HERALD_VAPID_SUBJECT = "mailto:ops@example.com"


@pytest.fixture
def as_bob(client, bob):
    client.force_login(bob)
    return client


def post(client: Client, body, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(URL, data, content_type="application/json", HTTP_USER_AGENT="Firefox/130 on Linux", **extra)


def test_a_browser_subscription_is_stored_for_the_user_and_its_session(as_bob, bob):
    browser = BrowserKeys()
    response = post(as_bob, browser.subscription(FCM + "abc"))

    assert response.status_code == 201
    row = PushSubscription.objects.get()
    assert response.json() == {"id": row.pk, "created": True}
    assert (row.user, row.endpoint, row.p256dh, row.auth) == (bob, FCM + "abc", browser.p256dh, b64url(browser.auth))
    assert row.user_agent == "Firefox/130 on Linux"
    # The session by digest only: the key never leaves the session store.
    assert row.session_digest == wire.session_digest(as_bob.session.session_key)
    assert as_bob.session.session_key not in json.dumps(list(PushSubscription.objects.values()), default=str)

    again = post(as_bob, browser.subscription(FCM + "abc"))
    assert (again.status_code, again.json()) == (200, {"id": row.pk, "created": False})
    assert PushSubscription.objects.count() == 1


def test_the_browser_moves_to_whoever_subscribed_last_in_it(as_bob, alice):
    subscription = BrowserKeys().subscription(FCM + "shared-computer")
    post(as_bob, subscription)
    as_alice = Client()
    as_alice.force_login(alice)

    assert post(as_alice, subscription).status_code == 200
    assert PushSubscription.objects.get().user == alice


def test_anonymous_and_forged_requests_are_refused(bob):
    subscription = BrowserKeys().subscription(FCM + "x")
    assert post(Client(), subscription).status_code == 401
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(bob)
    assert post(strict, subscription).status_code == 403
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    ("endpoint", "why"),
    [
        ("http://fcm.googleapis.com/fcm/send/x", "https"),
        ("https://10.0.0.5/push", "address"),
        ("https://[::1]/push", "address"),
        ("https://localhost/push", "address"),
        ("https://internal.example.com/push", "known push service"),
        ("https://fcm.googleapis.com.evil.example/x", "known push service"),
        ("https://user:pw@fcm.googleapis.com/x", "not a URL"),
        ("https://fcm.googleapis.com:99999/x", "not a URL"),
        ("https://fcm.googleapis.com/a b", "not a URL"),
        (FCM + "x" * 1000, "too long"),
    ],
)
def test_an_endpoint_must_be_https_on_a_push_service(as_bob, endpoint, why):
    response = post(as_bob, BrowserKeys().subscription(endpoint))

    assert response.status_code == 422
    assert why in response.json()["error"]
    assert not PushSubscription.objects.exists()


def test_every_browsers_push_service_is_accepted(as_bob):
    for endpoint in (
        FCM + "a",
        "https://updates.push.services.mozilla.com/wpush/v2/b",
        "https://wns2-par02p.notify.windows.com/w/?token=c",
        "https://web.push.apple.com/d",
    ):
        assert post(as_bob, BrowserKeys().subscription(endpoint)).status_code == 201, endpoint


def test_a_local_push_service_only_in_debug_or_when_allowed(as_bob, settings):
    subscription = BrowserKeys().subscription("http://127.0.0.1:9999/push/x")
    assert post(as_bob, subscription).status_code == 422
    settings.HERALD_PUSH_ALLOW_INSECURE_ENDPOINTS = True
    assert post(as_bob, subscription).status_code == 201
    settings.HERALD_PUSH_ALLOW_INSECURE_ENDPOINTS = False
    settings.DEBUG = True
    assert post(as_bob, BrowserKeys().subscription("http://localhost:9999/push/y")).status_code == 201
    # Only this machine: another address stays refused.
    assert post(as_bob, BrowserKeys().subscription("http://192.168.1.2/push/z")).status_code == 422


def not_on_the_curve() -> str:
    return b64url(b"\x04" + b"\x01" * 64)


@pytest.mark.parametrize(
    ("body", "status", "why"),
    [
        ("not json", 400, "JSON"),
        ([], 422, "JSON object"),
        ({"endpoint": FCM + "x"}, 422, "endpoint and keys"),
        ({"endpoint": FCM + "x", "keys": {"p256dh": not_on_the_curve(), "auth": b64url(b"a" * 16)}}, 422, "p256dh"),
        ({"endpoint": FCM + "x", "keys": {"p256dh": "!!!", "auth": b64url(b"a" * 16)}}, 422, "p256dh"),
        ({"endpoint": FCM + "x", "keys": {"p256dh": BrowserKeys().p256dh, "auth": b64url(b"a" * 15)}}, 422, "auth"),
        ({"endpoint": FCM + "x", "keys": {"p256dh": BrowserKeys().p256dh, "auth": 16}}, 422, "auth"),
        ({"endpoint": FCM + "x" * 5000, "keys": {}}, 413, "too large"),
    ],
)
def test_a_malformed_subscription_gets_a_clear_error(as_bob, body, status, why):
    response = post(as_bob, body)

    assert response.status_code == status
    assert why in response.json()["error"]
    assert not PushSubscription.objects.exists()


def test_a_user_has_at_most_twenty_devices(as_bob):
    for i in range(20):
        assert post(as_bob, BrowserKeys().subscription(FCM + str(i))).status_code == 201

    response = post(as_bob, BrowserKeys().subscription(FCM + "21"))

    assert response.status_code == 409 and "remove one" in response.json()["error"]
    assert PushSubscription.objects.count() == 20


def test_without_vapid_keys_there_is_nothing_to_subscribe_to(as_bob, settings):
    settings.HERALD_VAPID_PRIVATE_KEY = ""
    assert post(as_bob, BrowserKeys().subscription(FCM + "x")).status_code == 404


def test_a_browser_unsubscribes_its_own_endpoint_only(as_bob, alice, bob):
    post(as_bob, BrowserKeys().subscription(FCM + "bob"))
    as_alice = Client()
    as_alice.force_login(alice)
    post(as_alice, BrowserKeys().subscription(FCM + "alice"))

    refused = as_bob.delete(URL, json.dumps({"endpoint": FCM + "alice"}), content_type="application/json")
    done = as_bob.delete(URL, json.dumps({"endpoint": FCM + "bob"}), content_type="application/json")

    assert refused.status_code == 404
    assert done.status_code == 204
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [FCM + "alice"]
    assert as_bob.delete(URL, "{}", content_type="application/json").status_code == 400


def test_a_device_is_removed_from_a_page_by_its_id_by_its_user_only(as_bob, alice):
    post(as_bob, BrowserKeys().subscription(FCM + "bob"))
    as_alice = Client()
    as_alice.force_login(alice)
    post(as_alice, BrowserKeys().subscription(FCM + "alice"))
    bobs = PushSubscription.objects.get(endpoint=FCM + "bob")
    alices = PushSubscription.objects.get(endpoint=FCM + "alice")

    assert as_bob.post(f"/herald/push/subscriptions/{alices.pk}/remove/").status_code == 404
    response = as_bob.post(f"/herald/push/subscriptions/{bobs.pk}/remove/", {"next": "/sessions/"})

    assert (response.status_code, response["Location"]) == (302, "/sessions/")
    assert list(PushSubscription.objects.all()) == [alices]


def test_logging_out_turns_push_off_in_that_browser_only(as_bob, bob):
    post(as_bob, BrowserKeys().subscription(FCM + "this-browser"))
    other = Client()
    other.force_login(bob)
    post(other, BrowserKeys().subscription(FCM + "other-browser"))

    as_bob.post("/accounts/logout/")

    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [FCM + "other-browser"]


def test_the_sessions_page_lists_the_devices_by_push_service_never_by_endpoint(as_bob):
    post(as_bob, BrowserKeys().subscription(FCM + "secret-capability-url"))
    row = PushSubscription.objects.get()

    page = as_bob.get("/sessions/").content.decode()

    assert f'data-push-device="{row.pk}"' in page
    assert "fcm.googleapis.com" in page and "secret-capability-url" not in page
    assert f"/herald/push/subscriptions/{row.pk}/remove/" in page
    assert "this browser" in page


def test_the_button_is_on_the_preferences_page_only_when_push_is_configured(as_bob, settings, site_keys):
    page = as_bob.get("/herald/preferences/").content.decode()
    assert 'id="herald-push"' in page and f'data-public-key="{site_keys.public_key}"' in page
    assert 'data-sw-url="/herald/sw.js"' in page and 'data-scope="/herald/"' in page
    assert "Enable notifications on this device" in page and "herald/push.js" in page

    settings.HERALD_VAPID_PUBLIC_KEY = settings.HERALD_VAPID_PRIVATE_KEY = settings.HERALD_VAPID_SUBJECT = ""
    page = as_bob.get("/herald/preferences/").content.decode()
    assert 'id="herald-push"' not in page and "herald/push.js" not in page


def test_the_service_worker_comes_from_the_sites_origin_never_cached_across_a_deploy(client):
    response = client.get("/herald/sw.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Cache-Control"] == "no-cache"
    assert b'addEventListener("push"' in response.content


def test_the_vapid_keys_command_prints_a_pair_that_works_together(capsys, settings):
    call_command("herald_vapid_keys", "--env", "--subject", "mailto:ops@example.org")
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.split())

    settings.HERALD_VAPID_PUBLIC_KEY = lines["HERALD_VAPID_PUBLIC_KEY"]
    settings.HERALD_VAPID_PRIVATE_KEY = lines["HERALD_VAPID_PRIVATE_KEY"]
    settings.HERALD_VAPID_SUBJECT = lines["HERALD_VAPID_SUBJECT"]
    assert vapid.problems() == []
    assert len(vapid.b64url_decode(lines["HERALD_VAPID_PUBLIC_KEY"])) == 65
    assert lines["HERALD_VAPID_SUBJECT"] == "mailto:ops@example.org"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"HERALD_VAPID_PRIVATE_KEY": ""}, "HERALD_VAPID_PRIVATE_KEY is empty"),
        ({"HERALD_VAPID_SUBJECT": "ops@example.com"}, "mailto:"),
        ({"HERALD_VAPID_PRIVATE_KEY": "not-a-key"}, "not a base64url P-256 private key"),
        ({"HERALD_VAPID_PUBLIC_KEY": vapid.generate().public_key}, "not the public key"),
    ],
)
def test_half_configured_keys_are_a_warning_at_start(settings, change, problem):
    assert checks.herald_push() == []
    for name, value in change.items():
        setattr(settings, name, value)

    (warning,) = checks.herald_push()

    assert warning.id == "herald_live.W030" and problem in warning.msg


def test_no_keys_at_all_is_push_off_without_a_warning(settings):
    settings.HERALD_VAPID_PUBLIC_KEY = settings.HERALD_VAPID_PRIVATE_KEY = settings.HERALD_VAPID_SUBJECT = ""
    assert checks.herald_push() == []


def test_every_answer_is_one_the_openapi_description_lists(as_bob, alice):
    path = "/push/subscriptions/"
    subscription = BrowserKeys().subscription(FCM + "spec")
    assert documented(post(as_bob, subscription), path, "post")["created"] is True
    assert documented(post(as_bob, subscription), path, "post")["created"] is False
    assert documented(post(as_bob, {"endpoint": "x"}), path, "post")["error"]
    assert documented(post(Client(), subscription), path, "post")["error"]
    row = PushSubscription.objects.get()
    removed = as_bob.post(f"/herald/push/subscriptions/{row.pk}/remove/", HTTP_ACCEPT="application/json")
    assert documented(removed, "/push/subscriptions/{subscription_id}/remove/", "post") == {
        "id": row.pk,
        "removed": True,
    }
    gone = as_bob.delete(URL, json.dumps({"endpoint": FCM + "spec"}), content_type="application/json")
    assert documented(gone, path, "delete")["error"]

"""Web push with real processes: a Celery worker consuming herald.push, the web, Chromium, and a local push service.

The push services browsers use (FCM for Chromium) are not reachable from here. A local HTTP server stands in
for them (tests/support/push_service.py): the worker sends it what it would send FCM, and it decrypts that with
the test browser's keys. Chromium's own ``pushManager.subscribe()`` needs FCM too, so in the browser tests the
page's PushManager hands push.js a subscription whose keys the test holds; everything else is Chromium's own:
the permission, the service worker's registration at /herald/sw.js with scope /herald/, push.js, the page's
POST with its CSRF token. The push that reaches the browser's service worker is the one the worker sent,
decrypted by the stand-in and handed to Chromium over the DevTools protocol (``ServiceWorker.deliverPushMessage``),
as FCM would hand it over, while no page of the site is open.

"Away" is "no live socket": a real pusher reports the sessions it has sockets for (herald_live/pusher/presence.py)
and the worker pushes to nobody with one, logged in or not.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta

import pytest
from django.utils import timezone
from notifications.models import Notification
from playwright.sync_api import expect
from user_sessions.models import Session

from herald_live import notification_types, wire
from herald_live.actions import sending
from herald_live.infra import presence
from herald_live.models import Channel, ChannelPreference, PushSubscription
from herald_live.push import vapid
from tests.conftest import start_pusher
from tests.support import processes
from tests.support.browser import log_in
from tests.support.clients import LiveSocket
from tests.support.push_service import BrowserKeys, PushService
from tests.support.widget import Widget

pytestmark = pytest.mark.usefixtures("committed")

SUBJECT = "mailto:ops@example.com"
FCM = "https://fcm.googleapis.com/fcm/send/"


@pytest.fixture(scope="module")
def site_keys() -> vapid.KeyPair:
    return vapid.generate()


@pytest.fixture(scope="module")
def push_env(system_env, site_keys) -> dict[str, str]:
    web_port, pusher_port = processes.free_port(), processes.free_port()
    return {
        **system_env,
        # A web and a pusher of this module's own: the pages' sockets go to that pusher, from that web's origin.
        "HERALD_TEST_WEB_PORT": str(web_port),
        "HERALD_TEST_PUSHER_PORT": str(pusher_port),
        "HERALD_PUSHER_URL": f"http://127.0.0.1:{pusher_port}",
        "HERALD_ALLOWED_ORIGINS": f"http://127.0.0.1:{web_port}",
        "HERALD_VAPID_PUBLIC_KEY": site_keys.public_key,
        "HERALD_VAPID_PRIVATE_KEY": site_keys.private_key,
        "HERALD_VAPID_SUBJECT": SUBJECT,
        # The host's own types: test.urgent pushes even to users on the site.
        "DJANGO_SETTINGS_MODULE": "tests.system.push_settings",
    }


@pytest.fixture(scope="module")
def push_worker(push_env):
    service = processes.worker(push_env, name="push-worker").start()
    service.wait_for_log("ready.")
    yield service
    service.stop()


@pytest.fixture(scope="module")
def push_pusher(push_env):
    service = start_pusher(push_env, "eventlet", port=int(push_env["HERALD_TEST_PUSHER_PORT"]))
    yield service
    service.stop()


@pytest.fixture(scope="module")
def push_web(push_env, push_pusher):
    port = int(push_env["HERALD_TEST_WEB_PORT"])
    service = processes.web(push_env, port=port).start()
    service.url = f"http://127.0.0.1:{port}"
    service.wait_for_http(f"{service.url}/accounts/login/")
    yield service
    service.stop()


@pytest.fixture(scope="module")
def push_service():
    with PushService() as service:
        yield service


def subscribe(user, service: PushService, name: str) -> BrowserKeys:
    browser = BrowserKeys()
    keys = browser.subscription("")["keys"]
    PushSubscription.objects.create(
        user=user, endpoint=service.endpoint(name), p256dh=keys["p256dh"], auth=keys["auth"]
    )
    return browser


def logged_in(user) -> str:
    """An unexpired session of the user's: a browser logged in, with or without a page open. Its key."""
    key = secrets.token_hex(16)
    Session.objects.create(
        session_key=key, session_data="", user=user, user_agent="test", expire_date=timezone.now() + timedelta(hours=1)
    )
    return key


def is_live(user) -> bool:
    """What the worker's fan-out concludes from the pushers' presence set about the user's sessions."""
    rooms = [
        wire.session_room(wire.session_digest(key))
        for key in Session.objects.filter(user=user).values_list("session_key", flat=True)
    ]
    return presence.live_users(rooms_by_user={user.pk: rooms}) == {user.pk}


@pytest.fixture
def on_the_site(push_env, push_pusher):
    """Logs a user in and opens a socket on the real pusher for that session, as the site's page would."""
    sockets: list[LiveSocket] = []

    def connect(user) -> LiveSocket:
        session = wire.session_digest(logged_in(user))
        token = wire.sign_token(secret=os.environ["HERALD_TOKEN_SECRET"], session=session, user_id=user.pk)
        sockets.append(LiveSocket(origin=push_env["HERALD_ALLOWED_ORIGINS"]).connect(push_pusher.url, token))
        processes.wait_until(lambda: is_live(user), timeout=5, what="the pusher to report the socket")
        return sockets[-1]

    yield connect
    for socket in sockets:
        socket.close()


def send(*, to: list, verb: str, level: str = "info", notification_type: str = notification_types.DEFAULT, actor=None):
    event, _ = sending.record_event(
        actor=actor,
        audience="users",
        recipient_ids=[user.pk for user in to],
        verb=verb,
        level=level,
        notification_type=notification_type,
    )
    return event


def test_the_worker_pushes_to_the_users_away_with_push_on_and_to_nobody_else(
    push_worker, push_service, on_the_site, make_user
):
    alice = make_user("alice")
    away, closed, live, off, nodevice = (make_user(name) for name in ("away", "closed", "live", "off", "nodevice"))
    browsers = {user.username: subscribe(user, push_service, user.username) for user in (away, closed, live, off)}
    logged_in(closed)  # still logged in, every page closed: no socket, so away
    on_the_site(live)
    ChannelPreference.objects.create(
        user=off, notification_type=notification_types.DEFAULT, channel=Channel.PUSH, enabled=False
    )
    logged = len(push_worker.log())

    event = send(to=[away, closed, live, off, nodevice], verb="shipped v2", level="success", actor=alice)

    (request,) = push_service.wait_for(away.username)
    (closed_request,) = push_service.wait_for(closed.username)
    assert browsers[closed.username].decrypt(closed_request.body)["body"] == "shipped v2"
    row = Notification.objects.get(recipient=away, verb="shipped v2")
    payload = browsers[away.username].decrypt(request.body)
    assert payload == {
        "title": alice.username,
        "body": "shipped v2",
        "url": "/",
        "level": "success",
        "id": row.pk,
        "tag": f"herald-{row.pk}",
    }
    # One task for the chunk: once it logged its deliveries, nothing else of this event is on its way.
    push_worker.wait_for_log("push sent notifications=2 deliveries=2 attempt=0 ok=2", after=logged)
    assert push_service.received(live.username) == []  # a socket open: the live message shows it
    assert push_service.received(off.username) == []  # turned push off for the type
    assert Notification.objects.filter(action_object_object_id=str(event.pk)).count() == 5
    assert PushSubscription.objects.get(user=away).last_success_at is not None


def test_a_type_that_pushes_when_live_reaches_users_on_the_site_too(push_worker, push_service, on_the_site, make_user):
    live = make_user("urgent-live")
    browser = subscribe(live, push_service, live.username)
    on_the_site(live)

    send(to=[live], verb="the site is down", level="error", notification_type="test.urgent")

    (request,) = push_service.wait_for(live.username)
    assert browser.decrypt(request.body)["body"] == "the site is down"
    assert request.headers["urgency"] == "high"


def test_the_worker_sends_again_later_what_the_push_service_could_not_take_and_deletes_what_is_gone(
    push_worker, push_service, make_user
):
    user = make_user("flaky")
    subscribe(user, push_service, "flaky-ok")
    flaky = subscribe(user, push_service, "flaky-503")
    subscribe(user, push_service, "flaky-gone")
    push_service.answer("flaky-503", 503)
    push_service.answer("flaky-gone", 410)

    send(to=[user], verb="retry me")

    # The first retry waits 5 to 6.25 s (herald_live.push.send.RETRY_DELAYS).
    first, second = push_service.wait_for("flaky-503", 2, timeout=30)
    assert flaky.decrypt(first.body) == flaky.decrypt(second.body)
    assert len(push_service.received("flaky-ok")) == 1  # its delivery is not repeated by the retry
    assert not PushSubscription.objects.filter(endpoint=push_service.endpoint("flaky-gone")).exists()
    assert PushSubscription.objects.filter(user=user).count() == 2


# --- Chromium ---------------------------------------------------------------------------------------------------

# Chromium's PushManager would ask FCM for an endpoint; this one hands push.js the test's subscription instead,
# and keeps what push.js asked for.
FAKE_PUSH_MANAGER = """
(() => {
  const subscription = %s;
  let current = null;
  PushManager.prototype.subscribe = async function (options) {
    window.heraldTestSubscribed = {
      userVisibleOnly: options.userVisibleOnly,
      key: Array.from(new Uint8Array(options.applicationServerKey)),
    };
    current = {
      endpoint: subscription.endpoint,
      options: { applicationServerKey: new Uint8Array(options.applicationServerKey).buffer },
      toJSON: () => subscription,
      unsubscribe: async () => { window.heraldTestUnsubscribed = true; current = null; return true; },
    };
    return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();
"""


def enable_push(browser, site: str, user, subscription: dict):
    context, page = log_in(browser, site, user)
    context.grant_permissions(["notifications"], origin=site)
    context.add_init_script(FAKE_PUSH_MANAGER % json.dumps(subscription))
    page.goto(f"{site}/herald/preferences/")
    button = page.get_by_role("button", name="Enable notifications on this device")
    expect(button).to_be_visible()
    button.click()
    expect(page.locator("#herald-push")).to_have_attribute("data-state", "on", timeout=15_000)
    return context, page


def session_key_of(context) -> str:
    return next(cookie["value"] for cookie in context.cookies() if cookie["name"] == "sessionid")


def test_the_button_registers_the_service_worker_and_stores_the_subscription(push_web, browser, make_user, site_keys):
    user = make_user("chromium-on")
    keys = BrowserKeys()
    context, page = enable_push(browser, push_web.url, user, keys.subscription(FCM + secrets.token_hex(8)))
    try:
        row = PushSubscription.objects.get(user=user)
        assert (row.p256dh, row.auth) == (keys.p256dh, keys.subscription("")["keys"]["auth"])
        assert row.session_digest == wire.session_digest(session_key_of(context))
        assert "Chrome" in row.user_agent
        subscribed = page.evaluate("window.heraldTestSubscribed")
        assert subscribed == {"userVisibleOnly": True, "key": list(vapid.b64url_decode(site_keys.public_key))}
        registration = page.evaluate(
            """async () => {
                const r = await navigator.serviceWorker.getRegistration("/herald/");
                return {scope: r.scope, script: r.active.scriptURL};
            }"""
        )
        assert registration == {"scope": f"{push_web.url}/herald/", "script": f"{push_web.url}/herald/sw.js"}
        expect(page.locator(".herald-push-status")).to_contain_text("Notifications are on for this device")

        page.get_by_role("button", name="Turn off notifications on this device").click()

        expect(page.locator("#herald-push")).to_have_attribute("data-state", "off")
        assert page.evaluate("window.heraldTestUnsubscribed") is True
        assert not PushSubscription.objects.filter(user=user).exists()
    finally:
        context.close()


def test_a_push_reaches_the_service_worker_with_every_page_of_the_site_closed(
    push_web, push_worker, push_service, browser, make_user
):
    alice, user = make_user("alice"), make_user("chromium-away")
    keys = BrowserKeys()
    context, page = enable_push(browser, push_web.url, user, keys.subscription(FCM + secrets.token_hex(8)))
    try:
        # FCM would forward to this browser what is sent to its endpoint; here the stand-in does.
        PushSubscription.objects.filter(user=user).update(endpoint=push_service.endpoint("chromium"))
        # With a page open the user is on the site: the page's socket shows the notification, and nothing is pushed.
        widget = Widget(page)
        widget.expect_state("live", timeout=15_000)
        processes.wait_until(lambda: is_live(user), timeout=5, what="the pusher to report the page's socket")
        send(to=[user], verb="while on the site", actor=alice)
        expect(widget.item("while on the site")).to_have_count(1)

        for open_page in context.pages:
            open_page.close()
        # Still logged in, with every page closed: the socket went with them, and the user is away.
        processes.wait_until(lambda: not is_live(user), timeout=5, what="the pusher to forget the closed socket")
        assert Session.objects.filter(user=user, expire_date__gt=timezone.now()).exists()

        send(to=[user], verb="your build finished", level="success", actor=alice)

        # Only this one: the push task of the first send, had there been one, was enqueued before the page showed it.
        (request,) = push_service.wait_for("chromium")
        plaintext = keys.decrypt(request.body)
        row = Notification.objects.get(recipient=user, verb="your build finished")
        assert plaintext["id"] == row.pk

        # The DevTools protocol lives on a page target: a blank one, not the site's (no client of the worker).
        blank = context.new_page()
        devtools = context.new_cdp_session(blank)
        versions: list[dict] = []
        devtools.on("ServiceWorker.workerVersionUpdated", lambda event: versions.extend(event["versions"]))
        devtools.send("ServiceWorker.enable")
        script = f"{push_web.url}/herald/sw.js"
        for _ in range(100):  # Playwright delivers the events while it waits, not while time.sleep() does
            if any(v["scriptURL"] == script for v in versions):
                break
            blank.wait_for_timeout(100)
        registration_id = next(v["registrationId"] for v in versions if v["scriptURL"] == script)
        targets = browser.new_browser_cdp_session().send("Target.getTargets")["targetInfos"]
        assert [t["url"] for t in targets if t["type"] == "page" and t["url"].startswith(push_web.url)] == []

        devtools.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": push_web.url, "registrationId": registration_id, "data": json.dumps(plaintext)},
        )
        devtools.detach()
        blank.close()

        # The worker's push event showed a notification: a page opened afterwards reads it back.
        later = context.new_page()
        later.goto(f"{push_web.url}/accounts/login/")
        shown = later.evaluate(
            """async () => {
                const r = await navigator.serviceWorker.getRegistration("/herald/");
                for (let i = 0; i < 100; i++) {
                    const found = await r.getNotifications();
                    const shown = found.map((n) => ({title: n.title, body: n.body, tag: n.tag, data: n.data}));
                    if (shown.length) return shown;
                    await new Promise((resolve) => setTimeout(resolve, 100));
                }
                return [];
            }"""
        )
        assert shown == [
            {
                "title": alice.username,
                "body": "your build finished",
                "tag": f"herald-{row.pk}",
                "data": {"url": f"{push_web.url}/", "id": row.pk},
            }
        ]
    finally:
        context.close()


# A browser that cannot reach its push service: subscribe() never settles.
HANGING_PUSH_MANAGER = """
PushManager.prototype.subscribe = () => new Promise(() => {});
PushManager.prototype.getSubscription = async () => null;
"""


def test_enable_says_so_when_the_browsers_push_service_does_not_answer(push_web, browser, make_user):
    context, page = log_in(browser, push_web.url, make_user("chromium-offline"))
    try:
        context.grant_permissions(["notifications"], origin=push_web.url)
        context.add_init_script(HANGING_PUSH_MANAGER)
        page.goto(f"{push_web.url}/herald/preferences/")
        # The timeout is 20 s in a page; a test need not wait that long.
        page.evaluate("document.getElementById('herald-push').dataset.subscribeTimeoutMs = '1500'")
        button = page.get_by_role("button", name="Enable notifications on this device")

        button.click()

        status = page.locator(".herald-push-status")
        expect(status).to_have_text("Asking this browser’s push service…")
        expect(status).to_contain_text("push service does not answer", timeout=10_000)
        expect(page.locator("#herald-push")).to_have_attribute("data-state", "off")
        expect(button).to_be_enabled()
        assert not PushSubscription.objects.filter(user__username__startswith="chromium-offline").exists()
    finally:
        context.close()

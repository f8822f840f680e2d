"""The request side: validation, clear errors, one row per send, no fan-out in the request."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from notifications.models import Notification

from herald_live import wire
from herald_live.actions import service_tokens
from herald_live.models import Event, ServiceToken
from herald_live.permissions import can_send_to_everyone
from tests.support.metrics import metric
from web.metrics import exposition

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


def grant_everyone(user):
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="herald_live", codename="send_to_everyone")
    )


@pytest.fixture
def as_bob(client, bob):
    client.force_login(bob)
    return client


@pytest.fixture
def as_herald_bob(as_bob, bob):
    """Bob, allowed to send to everyone."""
    grant_everyone(bob)
    return as_bob


def test_a_send_records_one_event_and_enqueues_it_on_commit(as_bob, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = as_bob.post("/notifications/send/", {"recipient": "alice", "message": "hi", "level": "info"}, **JSON)

    assert response.status_code == 202
    event = Event.objects.get()
    assert response.json() == {"event_id": event.pk, "status": "queued"}
    assert (event.recipient, event.verb, event.audience) == (alice, "hi", "user")
    assert len(callbacks) == 1, "the fan-out task is enqueued once, after commit"
    assert not Notification.objects.exists(), "the request never writes per-recipient rows"


def test_a_send_to_everyone_is_still_one_row(as_herald_bob, django_user_model, django_capture_on_commit_callbacks):
    django_user_model.objects.bulk_create([django_user_model(username=f"u{i}") for i in range(200)])

    with django_capture_on_commit_callbacks() as callbacks:
        response = as_herald_bob.post("/notifications/send/", {"everyone": "1", "message": "all"}, **JSON)

    assert response.status_code == 202
    assert Event.objects.get().audience == "everyone"
    assert len(callbacks) == 1
    assert not Notification.objects.exists()


@pytest.mark.parametrize("as_json", [True, False])
def test_sending_to_everyone_without_the_permission_is_a_clear_403(as_bob, alice, as_json):
    response = as_bob.post("/notifications/send/", {"everyone": "1", "message": "all"}, **(JSON if as_json else {}))

    assert response.status_code == 403
    message = response.json()["error"] if as_json else response.content.decode()
    assert "herald_live.send_to_everyone" in message
    assert not Event.objects.exists()


def test_everyone_with_a_recipient_too_is_refused_not_guessed(as_herald_bob, alice):
    response = as_herald_bob.post(
        "/notifications/send/", {"everyone": "1", "recipient": "alice", "message": "hi"}, **JSON
    )

    assert response.status_code == 400
    assert "Everyone" in response.json()["errors"]["recipient"][0]["message"]
    assert not Event.objects.exists()


def test_an_unticked_everyone_with_a_recipient_sends_to_that_user_only(as_herald_bob, alice):
    response = as_herald_bob.post("/notifications/send/", {"recipient": "alice", "message": "hi"}, **JSON)

    assert response.status_code == 202
    assert (Event.objects.get().audience, Event.objects.get().recipient) == ("user", alice)


def test_the_everyone_checkbox_is_rendered_only_for_those_allowed(as_bob, bob):
    plain = as_bob.get("/").content.decode()
    grant_everyone(bob)
    allowed = as_bob.get("/").content.decode()

    assert 'id="id_everyone"' not in plain and 'name="everyone"' not in plain
    assert 'id="id_everyone"' in allowed and 'name="everyone" value="1"' in allowed
    assert "checked" not in allowed.split('id="id_everyone"')[1].split(">")[0], "never ticked by default"


def test_who_may_send_to_everyone(django_user_model):
    django_user_model.objects.create_user("plain")
    django_user_model.objects.create_user("staff", is_staff=True)
    granted = django_user_model.objects.create_user("granted")
    grant_everyone(granted)
    member = django_user_model.objects.create_user("member")
    group = Group.objects.create(name="announcers")
    group.permissions.add(Permission.objects.get(codename="send_to_everyone"))
    member.groups.add(group)
    django_user_model.objects.create_superuser("boss")
    django_user_model.objects.create_user("gone", is_staff=True, is_active=False)
    service_tokens.create(name="ops", can_send_to_everyone=True)
    service_tokens.create(name="plain")
    service_tokens.create(name="revoked", can_send_to_everyone=True)
    service_tokens.revoke(name="revoked")

    users = {u.username: can_send_to_everyone(u) for u in django_user_model.objects.all()}
    services = {t.name: can_send_to_everyone(t) for t in ServiceToken.objects.all()}

    assert users == {"plain": False, "staff": True, "granted": True, "member": True, "boss": True, "gone": False}
    assert services == {"ops": True, "plain": False, "revoked": False}
    assert not can_send_to_everyone(None)


def test_staff_may_send_to_everyone_from_the_form(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("admin", is_staff=True))

    response = client.post("/notifications/send/", {"everyone": "1", "message": "all"}, **JSON)

    assert response.status_code == 202
    assert Event.objects.get().audience == "everyone"


def test_sends_accepted_and_refused_are_counted_in_the_metrics(as_bob, alice):
    def sample(name: str, **labels: str) -> float:
        try:
            # What the web's metrics listener serves (web/metrics.py; tests/web/test_metrics.py scrapes it).
            return metric(exposition().decode(), name, **labels)
        except AssertionError:
            return 0.0

    accepted = sample("herald_web_sends_accepted_total", audience="user")
    refused = sample("herald_web_sends_refused_total", reason="invalid")

    as_bob.post("/notifications/send/", {"recipient": "alice", "message": "hi"}, **JSON)
    as_bob.post("/notifications/send/", {"recipient": "alice", "message": ""}, **JSON)

    assert sample("herald_web_sends_accepted_total", audience="user") == accepted + 1
    assert sample("herald_web_sends_refused_total", reason="invalid") == refused + 1


def test_the_html_form_redirects_home_after_a_send(as_bob, alice):
    response = as_bob.post("/notifications/send/", {"recipient": "alice", "message": "hi"})

    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"recipient": "nobody", "message": "hi"}, "recipient"),
        ({"recipient": "", "message": "hi"}, "recipient"),
        ({"recipient": "alice", "message": ""}, "message"),
        ({"recipient": "alice", "message": "   "}, "message"),
        ({"recipient": "alice", "message": "x" * 256}, "message"),
        ({"recipient": "alice", "message": "hi", "level": "shouting"}, "level"),
    ],
)
def test_bad_input_gets_a_clear_400_and_changes_nothing(as_bob, alice, data, field, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = as_bob.post("/notifications/send/", data, **JSON)

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "The notification was not sent."
    assert field in body["errors"]
    assert body["errors"][field][0]["message"]
    assert not Event.objects.exists()
    assert callbacks == []


def test_bad_input_in_the_html_form_re_renders_it_with_the_error(as_bob, alice):
    response = as_bob.post("/notifications/send/", {"recipient": "nobody", "message": "hi"})

    assert response.status_code == 400
    assert b"No such user." in response.content
    assert not Event.objects.exists()


@pytest.mark.parametrize("path", ["/notifications/send/", "/herald/notifications/read-all/"])
def test_get_on_a_post_endpoint_is_405(as_bob, path):
    response = as_bob.get(path, **JSON)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "use POST" in response.json()["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/notifications/send/"),
        ("post", "/herald/notifications/read-all/"),
        ("get", "/herald/notifications/state/"),
        ("get", "/herald/socket-token/"),
    ],
)
def test_anonymous_callers_get_401(client, alice, method, path):
    response = getattr(client, method)(
        path, {"recipient": "alice", "message": "hi"} if method == "post" else {}, **JSON
    )

    assert response.status_code == 401
    assert response.json() == {"error": "Log in first."}
    assert not Event.objects.exists()


def test_anonymous_visitors_of_the_home_page_are_sent_to_log_in(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_post_without_csrf_token_is_refused(bob, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)

    response = client.post("/notifications/send/", {"recipient": "alice", "message": "hi"}, **JSON)

    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]
    assert not Event.objects.exists()


def test_mark_all_read_marks_only_the_callers_rows(as_bob, alice, bob, django_capture_on_commit_callbacks):
    for user in (alice, bob, bob):
        Notification.objects.create(recipient=user, actor=alice, verb="x")

    with django_capture_on_commit_callbacks() as callbacks:
        response = as_bob.post("/herald/notifications/read-all/", **JSON)

    newest_of_bob = Notification.objects.filter(recipient=bob).order_by("-id").first()
    assert response.json() == {"up_to_id": newest_of_bob.id}
    assert Notification.objects.filter(recipient=bob, unread=True).count() == 0
    assert Notification.objects.filter(recipient=alice, unread=True).count() == 1
    assert len(callbacks) == 1


def test_the_state_endpoint_lists_unread_newest_first_and_after_an_id(as_bob, alice, bob):
    rows = [Notification.objects.create(recipient=bob, actor=alice, verb=f"n{i}") for i in range(3)]
    Notification.objects.create(recipient=alice, actor=bob, verb="not bob's")
    rows[0].mark_as_read()

    state = as_bob.get("/herald/notifications/state/").json()
    after = as_bob.get("/herald/notifications/state/", {"after": rows[0].id}).json()

    assert [n["verb"] for n in state["notifications"]] == ["n2", "n1"]
    assert state["unread_count"] == 2
    assert state["last_id"] == rows[2].id
    assert state["notifications"][0]["actor"] == "alice"
    assert [n["id"] for n in after["notifications"]] == [rows[1].id, rows[2].id]


@pytest.mark.parametrize("after", ["-1", "abc", "1.5", "9" * 40])
def test_the_state_endpoint_refuses_a_bad_after(as_bob, after):
    response = as_bob.get("/herald/notifications/state/", {"after": after}, **JSON)

    assert response.status_code == 400
    assert "after" in response.json()["error"]


def test_the_socket_token_names_the_session_by_digest_only(as_bob, bob, settings):
    response = as_bob.get("/herald/socket-token/")

    token = response.json()["token"]
    session_key = as_bob.session.session_key
    claims = wire.verify_token(token=token, secrets=[settings.HERALD_TOKEN_SECRET])
    assert claims.session == wire.session_digest(session_key)
    assert claims.user_id == bob.pk
    assert session_key not in response.content.decode()
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_home_page_is_the_send_form_and_lists_no_notifications(as_bob, alice, bob):
    Notification.objects.create(recipient=bob, actor=alice, verb="<script>alert(1)</script>")

    response = as_bob.get("/")

    page = response.content.decode()
    assert 'id="send-form"' in page and 'id="id_recipient"' in page
    assert "<script>alert(1)</script>" not in page
    home = next(c for t, c in zip(response.templates, response.context, strict=True) if t.name == "home/home.html")
    assert "notifications" not in home, "the widget in base.html is the list"
    assert "users" not in home, "recipients are typed, never listed"


def test_mark_one_read_marks_only_that_row_of_the_caller(as_bob, alice, bob, django_capture_on_commit_callbacks):
    mine = [Notification.objects.create(recipient=bob, actor=alice, verb=str(i)) for i in range(2)]
    theirs = Notification.objects.create(recipient=alice, actor=bob, verb="x")

    with django_capture_on_commit_callbacks() as callbacks:
        response = as_bob.post(f"/herald/notifications/{mine[0].id}/read/", **JSON)
    refused = as_bob.post(f"/herald/notifications/{theirs.id}/read/", **JSON)

    assert response.json() == {"id": mine[0].id, "unread": False}
    assert len(callbacks) == 1
    assert list(Notification.objects.filter(unread=True).order_by("id")) == [mine[1], theirs]
    assert refused.status_code == 404


def make_session(user, *, user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0", ip="203.0.113.7"):
    from datetime import timedelta

    from django.utils import timezone
    from user_sessions.models import Session

    key = f"k{Session.objects.count():031d}"
    Session.objects.create(
        session_key=key,
        session_data="",
        user=user,
        user_agent=user_agent,
        ip=ip,
        expire_date=timezone.now() + timedelta(1),
    )
    return key


def test_the_sessions_page_lists_live_sessions_by_digest_never_by_key(as_bob, bob, alice):
    other = make_session(bob)
    alices = make_session(alice)

    page = as_bob.get("/sessions/").content.decode()

    assert wire.session_digest(other) in page
    assert other not in page and as_bob.session.session_key not in page
    assert wire.session_digest(alices) not in page
    assert "203.0.113.7" in page
    assert "this session" in page


def test_revoking_a_session_deletes_it_and_drops_its_sockets(as_bob, bob, alice, django_capture_on_commit_callbacks):
    from user_sessions.models import Session

    other = make_session(bob)
    alices = make_session(alice)

    with django_capture_on_commit_callbacks() as callbacks:
        response = as_bob.post("/sessions/revoke/", {"session": wire.session_digest(other)})
    foreign = as_bob.post("/sessions/revoke/", {"session": wire.session_digest(alices)}, **JSON)
    own = as_bob.post("/sessions/revoke/", {"session": wire.session_digest(as_bob.session.session_key)}, **JSON)

    assert response.status_code == 302
    assert not Session.objects.filter(session_key=other).exists()
    assert len(callbacks) == 1
    assert foreign.status_code == 404 and Session.objects.filter(session_key=alices).exists()
    assert own.status_code == 400 and "log out" in own.json()["error"]


def test_revoking_all_other_sessions_keeps_the_current_one(as_bob, bob, alice):
    from user_sessions.models import Session

    for _ in range(2):
        make_session(bob)
    make_session(alice)

    response = as_bob.post("/sessions/revoke-others/", **JSON)

    assert response.json() == {"revoked": 2}
    assert list(Session.objects.filter(user=bob).values_list("session_key", flat=True)) == [as_bob.session.session_key]
    assert Session.objects.filter(user=alice).count() == 1

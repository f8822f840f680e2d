"""Preferences: the fan-out honours them inside its chunk queries; the page and the JSON API change them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from notifications.models import Notification

from herald_live import producers
from herald_live.actions import preferences as preference_actions
from herald_live.actions import sending
from herald_live.delivery import fanout
from herald_live.models import ChannelPreference, DeliverySettings, Event, Mute
from herald_live.selectors import preferences as preference_selectors
from tests.herald_live.test_notification_types import register_for_test
from tests.herald_live.views.test_api import documented
from tests.support.sessions import live_session

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create_user(f"u{i}") for i in range(4)]


@pytest.fixture
def thread():
    return Group.objects.create(name="release thread")


def turn_off(user, channel: str = "in_app", kind: str = "herald.message") -> None:
    ChannelPreference.objects.create(user=user, notification_type=kind, channel=channel, enabled=False)


def mute(user, target, *, until=None) -> Mute:
    return Mute.objects.create(
        user=user,
        target_content_type=ContentType.objects.get_for_model(target),
        target_object_id=str(target.pk),
        until=until,
    )


def fan_out(event_id: int, capture) -> Event:
    with capture(execute=True):
        return fanout.fan_out_event(event_id=event_id)


# ---- the fan-out ------------------------------------------------------------------------------------


def test_muted_and_in_app_off_users_get_no_row_and_no_live_message(users, thread, django_capture_on_commit_callbacks):
    normal, muted, off, expired = users
    for user in users:
        live_session(user)
    mute(muted, thread)
    turn_off(off)
    mute(expired, thread, until=timezone.now() - timedelta(minutes=1))
    # Choices about other things change nothing: another type off, another object muted.
    turn_off(normal, kind="comment.created")
    mute(normal, Group.objects.create(name="another thread"))
    event, _ = sending.record_event(
        audience=Event.Audience.USERS,
        recipient_ids=[u.pk for u in users],
        verb="v1.2 is out",
        level="info",
        target=thread,
    )

    done = fan_out(event.pk, django_capture_on_commit_callbacks)

    assert set(Notification.objects.filter(verb="v1.2 is out").values_list("recipient", flat=True)) == {
        normal.pk,
        expired.pk,
    }
    # One live session each for the two with a row: nobody else was published to.
    assert (done.status, done.recipients_count, done.rows_persisted, done.sessions_published) == ("done", 2, 2, 2)


def test_a_timed_mute_silences_until_it_ends_and_events_without_a_target_are_never_muted(
    users, thread, django_capture_on_commit_callbacks
):
    alice = users[0]
    mute(alice, thread, until=timezone.now() + timedelta(hours=1))

    about_thread = sending.send_notification(actor=users[1], recipient=alice, verb="in thread", level="info")
    Event.objects.filter(pk=about_thread.pk).update(
        target_content_type=ContentType.objects.get_for_model(thread), target_object_id=str(thread.pk)
    )
    about_nothing = sending.send_notification(actor=users[1], recipient=alice, verb="about nothing", level="info")
    fan_out(about_thread.pk, django_capture_on_commit_callbacks)
    fan_out(about_nothing.pk, django_capture_on_commit_callbacks)

    assert list(Notification.objects.filter(recipient=alice).values_list("verb", flat=True)) == ["about nothing"]


def test_everyone_honours_preferences_too(users, thread, django_capture_on_commit_callbacks):
    turn_off(users[1])
    mute(users[2], thread)
    event, _ = sending.record_event(audience=Event.Audience.EVERYONE, verb="to all", level="info", target=thread)

    fan_out(event.pk, django_capture_on_commit_callbacks)

    assert set(Notification.objects.filter(verb="to all").values_list("recipient", flat=True)) == {
        users[0].pk,
        users[3].pk,
    }


def test_a_type_off_by_default_reaches_only_those_who_turned_it_on(
    users, monkeypatch, django_capture_on_commit_callbacks
):
    register_for_test(monkeypatch, "digest.weekly", in_app=False)
    ChannelPreference.objects.create(user=users[2], notification_type="digest.weekly", channel="in_app", enabled=True)
    # An override of another channel turns nothing on in the site.
    ChannelPreference.objects.create(user=users[3], notification_type="digest.weekly", channel="email", enabled=True)
    event_id = producers.notify(recipients=users, verb="weekly", notification_type="digest.weekly")

    fan_out(event_id, django_capture_on_commit_callbacks)

    assert list(Notification.objects.filter(verb="weekly").values_list("recipient", flat=True)) == [users[2].pk]


def test_by_default_everybody_gets_every_type_as_before(users, monkeypatch, django_capture_on_commit_callbacks):
    register_for_test(monkeypatch, "comment.created", email=False)
    plain = producers.notify(recipients=users, verb="plain")
    typed = producers.notify(recipients=users, verb="typed", notification_type="comment.created")

    fan_out(plain, django_capture_on_commit_callbacks)
    fan_out(typed, django_capture_on_commit_callbacks)

    for verb in ("plain", "typed"):
        assert Notification.objects.filter(verb=verb).count() == len(users)


def _fan_out_statements(event_id: int, capture) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        fan_out(event_id, capture)
    return [query["sql"] for query in queries.captured_queries]


def test_a_chunk_costs_the_same_queries_with_and_without_preferences(
    django_user_model, thread, django_capture_on_commit_callbacks
):
    people = [django_user_model.objects.create_user(f"p{i}") for i in range(60)]
    for person in people:
        live_session(person)
    ids = [person.pk for person in people]

    def send(verb: str, recipients: list[int]) -> int:
        event, _ = sending.record_event(
            audience=Event.Audience.USERS, recipient_ids=recipients, verb=verb, level="info", target=thread
        )
        return event.pk

    fan_out(send("warm", ids[:2]), django_capture_on_commit_callbacks)  # a running worker's caches
    few = _fan_out_statements(send("few, no preferences", ids[:5]), django_capture_on_commit_callbacks)
    plain = _fan_out_statements(send("no preferences", ids), django_capture_on_commit_callbacks)
    for person in people[:20]:
        turn_off(person)
    for person in people[20:40]:
        mute(person, thread)
    chosen = _fan_out_statements(send("with preferences", ids), django_capture_on_commit_callbacks)

    assert len(few) == len(plain) == len(chosen)
    assert Notification.objects.filter(verb="with preferences").count() == 20
    assert Notification.objects.filter(verb="no preferences").count() == 60
    # Preferences and mutes are read only inside the query of the chunk's users, never on their own.
    for sql in chosen:
        if "herald_live_mute" in sql or "herald_live_channelpreference" in sql:
            assert "EXISTS" in sql and '"auth_user"' in sql.split("EXISTS", 1)[0]
    assert sum("herald_live_mute" in sql for sql in chosen) == 1


def test_a_batch_of_events_drops_the_same_recipients_in_two_queries(
    users, thread, monkeypatch, django_assert_num_queries, django_user_model
):
    """The interactive drain fans out many events at once: the same rule as a chunk's, for the whole batch."""
    register_for_test(monkeypatch, "digest.weekly", in_app=False)
    other_thread = Group.objects.create(name="other thread")
    turn_off(users[0])
    mute(users[1], thread)
    mute(users[2], other_thread, until=timezone.now() - timedelta(minutes=1))  # ended
    ChannelPreference.objects.create(user=users[3], notification_type="digest.weekly", channel="in_app", enabled=True)
    everybody = [user.pk for user in users]
    events = []
    for verb, kind, target in [
        ("plain", "herald.message", None),
        ("in thread", "herald.message", thread),
        ("in the other thread", "herald.message", other_thread),
        ("weekly", "digest.weekly", None),
    ]:
        event, _ = sending.record_event(
            audience=Event.Audience.USERS, recipient_ids=everybody, verb=verb, level="info", target=target
        )
        Event.objects.filter(pk=event.pk).update(notification_type=kind)
        event.notification_type = kind
        events.append(event)

    with django_assert_num_queries(2):
        batch = preference_selectors.drop_unwanted({event.pk: everybody for event in events}, events=events)
    with django_assert_num_queries(1):
        untargeted = preference_selectors.drop_unwanted({events[0].pk: everybody}, events=[events[0]])

    ids = [user.pk for user in users]
    assert batch == {
        events[0].pk: ids[1:],
        events[1].pk: ids[2:],
        events[2].pk: ids[1:],
        events[3].pk: ids[3:],
    }
    assert untargeted == {events[0].pk: ids[1:]}
    # The chunk's rule says the same for each event.
    for event in events:
        chunk = preference_selectors.in_app_recipients(django_user_model.objects.all(), event=event)
        assert sorted(chunk.values_list("pk", flat=True)) == batch[event.pk]


# ---- the channels' helper -----------------------------------------------------------------------------


def test_enabled_users_follows_choices_and_defaults_in_one_query(users, monkeypatch, django_assert_num_queries):
    register_for_test(monkeypatch, "comment.created", email=False)
    ids = [user.pk for user in users]
    turn_off(users[0], channel="push", kind="comment.created")
    ChannelPreference.objects.create(user=users[1], notification_type="comment.created", channel="email", enabled=True)

    with django_assert_num_queries(1):
        push = preference_selectors.enabled_users(notification_type="comment.created", channel="push", user_ids=ids)
    with django_assert_num_queries(1):
        email = preference_selectors.enabled_users(notification_type="comment.created", channel="email", user_ids=ids)
    with django_assert_num_queries(0):
        assert (
            preference_selectors.enabled_users(notification_type="comment.created", channel="push", user_ids=[])
            == set()
        )

    assert push == set(ids) - {users[0].pk}
    assert email == {users[1].pk}
    with pytest.raises(ValueError, match="unknown channel"):
        preference_selectors.enabled_users(notification_type="comment.created", channel="sms", user_ids=ids)


# ---- the service --------------------------------------------------------------------------------------


def test_only_choices_that_differ_from_the_default_are_stored(users, monkeypatch):
    register_for_test(monkeypatch, "comment.created", email=False)
    alice = users[0]

    preference_actions.update(user=alice, choices={"comment.created": {"in_app": False, "email": True, "push": True}})
    stored = set(ChannelPreference.objects.filter(user=alice).values_list("notification_type", "channel", "enabled"))
    assert stored == {("comment.created", "in_app", False), ("comment.created", "email", True)}

    preference_actions.update(user=alice, choices={"comment.created": {"in_app": True}}, email_digest="daily")
    assert set(ChannelPreference.objects.filter(user=alice).values_list("channel", flat=True)) == {"email"}
    assert DeliverySettings.objects.get(user=alice).email_digest == "daily"

    preference_actions.update(user=alice, choices={}, replace=True)
    assert not ChannelPreference.objects.filter(user=alice).exists()
    assert DeliverySettings.objects.get(user=alice).email_digest == "off"


@pytest.mark.parametrize(
    ("choices", "digest", "message"),
    [
        ({"comment.deleted": {"in_app": False}}, None, "unknown notification type 'comment.deleted'"),
        ({"herald.message": {"sms": False}}, None, "unknown channel 'sms'"),
        ({"herald.message": {"in_app": "no"}}, None, "herald.message.in_app must be true or false"),
        ({"herald.message": False}, None, "expected an object"),
        ([], None, "types must be an object"),
        ({"herald.message": {"in_app": False}}, "weekly", "email_digest must be one of"),
    ],
)
def test_a_bad_choice_stores_nothing_and_says_why(users, choices, digest, message):
    with pytest.raises(preference_actions.InvalidPreferences, match=message):
        preference_actions.update(
            user=users[0],
            choices={"herald.message": {"push": False}, **choices} if isinstance(choices, dict) else choices,
            email_digest=digest,
        )

    assert not ChannelPreference.objects.exists() and not DeliverySettings.objects.exists()


# ---- the JSON API --------------------------------------------------------------------------------------

PATH = "/notifications/preferences/"


@pytest.fixture
def api(client, users):
    client.force_login(users[0])

    def call(method: str, path: str, body=None):
        data = body if isinstance(body, str | bytes) else json.dumps(body) if body is not None else None
        if data is None:
            return getattr(client, method)("/herald" + path, **JSON)
        return getattr(client, method)("/herald" + path, data, content_type="application/json", **JSON)

    call.user = users[0]
    return call


def test_get_lists_types_defaults_values_digest_and_mutes(api, users, thread, monkeypatch):
    register_for_test(monkeypatch, "comment.created", label="Comments", email=False)
    turn_off(api.user, channel="push")
    mine = mute(api.user, thread, until=timezone.now() + timedelta(hours=2))
    mute(api.user, Group.objects.create(name="old"), until=timezone.now() - timedelta(hours=1))
    mute(users[1], thread)

    body = documented(api("get", PATH), PATH, "get")

    assert [c["channel"] for c in body["channels"]] == ["in_app", "push", "email"]
    assert body["types"] == [
        {
            "type": "herald.message",
            "label": "Messages",
            "defaults": {"in_app": True, "push": True, "email": True},
            "channels": {"in_app": True, "push": False, "email": True},
        },
        {
            "type": "comment.created",
            "label": "Comments",
            "defaults": {"in_app": True, "push": True, "email": False},
            "channels": {"in_app": True, "push": True, "email": False},
        },
    ]
    assert body["email_digest"] == "off"
    assert [c["value"] for c in body["email_digest_choices"]] == ["off", "10min", "hourly", "daily"]
    # Active mutes of this user only.
    assert body["mutes"] == [
        {
            "id": mine.pk,
            "target": {"text": "release thread", "url": f"/sessions/?group={thread.pk}"},
            "until": mine.until.isoformat(),
        }
    ]


def test_patch_changes_what_it_names_and_put_resets_the_rest(api):
    patched = documented(
        api("patch", PATH, {"types": {"herald.message": {"email": False}}, "email_digest": "hourly"}), PATH, "patch"
    )
    again = documented(api("patch", PATH, {"types": {"herald.message": {"push": False}}}), PATH, "patch")
    put = documented(api("put", PATH, {"types": {"herald.message": {"in_app": False}}}), PATH, "put")

    assert patched["types"][0]["channels"] == {"in_app": True, "push": True, "email": False}
    assert patched["email_digest"] == "hourly"
    assert again["types"][0]["channels"] == {"in_app": True, "push": False, "email": False}
    assert again["email_digest"] == "hourly"
    assert put["types"][0]["channels"] == {"in_app": False, "push": True, "email": True}
    assert put["email_digest"] == "off"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "must be JSON"),
        ([1], "must be a JSON object"),
        ({"typos": {}}, "Unknown fields: typos"),
        ({"types": {"nope.nope": {"in_app": True}}}, "unknown notification type 'nope.nope'"),
        ({"types": {"herald.message": {"sms": True}}}, "unknown channel 'sms'"),
        ({"types": {"herald.message": {"in_app": 1}}}, "must be true or false"),
        ({"email_digest": "weekly"}, "email_digest must be one of off, 10min, hourly, daily"),
    ],
)
def test_bad_changes_get_a_clear_json_400_and_change_nothing(api, body, message):
    response = api("patch", PATH, body)

    assert response.status_code == 400
    assert message in documented(response, PATH, "patch")["error"]
    assert not ChannelPreference.objects.exists() and not DeliverySettings.objects.exists()


def test_the_preferences_api_needs_a_login_and_a_csrf_token(users):
    anonymous = Client().get("/herald" + PATH, **JSON)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(users[0])
    no_token = strict.patch(
        "/herald" + PATH, json.dumps({"types": {"herald.message": {"in_app": False}}}), content_type="application/json"
    )

    assert anonymous.status_code == 401 and documented(anonymous, PATH, "get") == {"error": "Log in first."}
    assert no_token.status_code == 403
    assert not ChannelPreference.objects.exists()


# ---- mutes ----------------------------------------------------------------------------------------------

MUTES = "/notifications/mutes/"


@pytest.fixture
def about_thread(api, users, thread):
    return Notification.objects.create(recipient=api.user, actor=users[1], verb="replied", target=thread)


def test_a_notification_mutes_its_target_and_muting_again_changes_the_end(api, about_thread, thread):
    created = api("post", MUTES, {"notification_id": about_thread.pk})
    hours = api("post", MUTES, {"notification_id": about_thread.pk, "for_hours": 1.5})
    until = api("post", MUTES, {"notification_id": about_thread.pk, "until": "2099-01-31T18:00:00Z"})

    assert created.status_code == 201 and hours.status_code == until.status_code == 200
    first = documented(created, MUTES, "post")
    assert first["until"] is None and first["target"]["text"] == "release thread"
    assert documented(until, MUTES, "post")["until"].startswith("2099-01-31T18:00:00")
    (stored,) = Mute.objects.all()
    assert (stored.user, stored.target, stored.until.year) == (api.user, thread, 2099)
    assert [m["id"] for m in api("get", PATH).json()["mutes"]] == [stored.pk]


def test_for_hours_sets_the_end_from_now(api, about_thread):
    before = timezone.now()
    body = documented(api("post", MUTES, {"notification_id": about_thread.pk, "for_hours": 1.5}), MUTES, "post")

    ends = Mute.objects.get(pk=body["id"]).until
    assert before + timedelta(hours=1.5) <= ends <= timezone.now() + timedelta(hours=1.5)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "notification_id must be the id of one of your notifications"),
        ({"notification_id": "7"}, 400, "notification_id must be"),
        ({"notification_id": True}, 400, "notification_id must be"),
        ({"until": "2099-01-01T00:00:00Z", "for_hours": 2}, 400, "not both"),
        ({"until": "tomorrow"}, 400, "until must be an ISO 8601 date and time"),
        ({"until": "2001-01-01T00:00:00Z"}, 400, "until must be in the future"),
        ({"for_hours": 0}, 400, "for_hours must be a number of hours from 0 to 8760"),
        ({"for_hours": 9000}, 400, "for_hours must be"),
        ({"for_hours": "2"}, 400, "for_hours must be"),
    ],
)
def test_bad_mutes_get_a_clear_json_400_and_mute_nothing(api, about_thread, body, status, message):
    if "notification_id" not in body and body:
        body = {"notification_id": about_thread.pk, **body}

    response = api("post", MUTES, body)

    assert response.status_code == status
    assert message in documented(response, MUTES, "post")["error"]
    assert not Mute.objects.exists()


def test_only_ones_own_notification_about_something_can_be_muted(api, users, thread):
    theirs = Notification.objects.create(recipient=users[1], actor=users[2], verb="x", target=thread)
    about_nothing = Notification.objects.create(recipient=api.user, actor=users[2], verb="hi")

    foreign = api("post", MUTES, {"notification_id": theirs.pk})
    nothing = api("post", MUTES, {"notification_id": about_nothing.pk})

    assert foreign.status_code == 404 and documented(foreign, MUTES, "post")["error"]
    assert nothing.status_code == 400 and "nothing that can be muted" in nothing.json()["error"]
    assert not Mute.objects.exists()


def test_delete_unmutes_ones_own_mute_only(api, users, thread):
    mine, theirs = mute(api.user, thread), mute(users[1], thread)
    path = "/notifications/mutes/{mute_id}/"

    gone = api("delete", f"/notifications/mutes/{mine.pk}/")
    foreign = api("delete", f"/notifications/mutes/{theirs.pk}/")
    wrong = api("post", f"/notifications/mutes/{mine.pk}/")

    assert documented(gone, path, "delete") == {"id": mine.pk, "muted": False}
    assert foreign.status_code == 404 and documented(foreign, path, "delete")["error"]
    assert wrong.status_code == 405
    assert list(Mute.objects.all()) == [theirs]


def test_without_javascript_the_center_page_mutes_and_returns(client, users, thread):
    client.force_login(users[0])
    note = Notification.objects.create(recipient=users[0], actor=users[1], verb="replied", target=thread)
    plain = Notification.objects.create(recipient=users[0], actor=users[1], verb="about nothing")

    page = client.get("/herald/?filter=all").content.decode()
    response = client.post("/herald" + MUTES, {"notification_id": note.pk, "next": "/herald/?filter=all"})

    assert page.count('name="notification_id"') == 1 and f'value="{note.pk}"' in page and plain.verb in page
    assert 'href="/herald/preferences/"' in page
    assert response.status_code == 302 and response["Location"] == "/herald/?filter=all"
    assert Mute.objects.get().target == thread


# ---- the page -------------------------------------------------------------------------------------------


def test_the_page_needs_a_login(client):
    response = client.get("/herald/preferences/")

    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_page_shows_every_type_and_channel_and_disables_push_and_email_of_a_type_off_in_the_site(
    client, users, monkeypatch
):
    register_for_test(monkeypatch, "comment.created", label="Comments", email=False)
    turn_off(users[0])
    client.force_login(users[0])

    page = client.get("/herald/preferences/").content.decode()

    assert "Messages" in page and "Comments" in page and "Email digest" in page
    for box in ("herald.message:in_app", "comment.created:in_app", "comment.created:push"):
        assert f'name="on" value="{box}"' in page
    # herald.message is off in the site: its push and email boxes (and their markers) are disabled.
    assert 'value="herald.message:push" data-herald-channel="push" disabled' in page
    assert (
        'name="on" value="herald.message:in_app" data-herald-channel="in_app" aria-label="Messages: In the site">'
        in page
    )
    assert 'name="on" value="comment.created:email" data-herald-channel="email" aria-label="Comments: Email">' in page
    # The bell's panel links to this page.
    assert 'class="herald-preferences-link" href="/herald/preferences/"' in page


def test_a_form_post_saves_every_enabled_box_and_keeps_the_disabled_ones(client, users, thread):
    client.force_login(users[0])
    ChannelPreference.objects.create(user=users[0], notification_type="herald.message", channel="in_app", enabled=False)
    ChannelPreference.objects.create(user=users[0], notification_type="herald.message", channel="email", enabled=False)
    other = mute(users[0], thread)

    # The site box is off, so push and email were disabled and are not sent: they keep their values.
    off = client.post("/herald/preferences/", {"shown": ["herald.message:in_app"], "on": [], "email_digest": "daily"})
    assert off.status_code == 302 and off["Location"] == "/herald/preferences/?saved=1"
    assert preference_selectors.preferences_of(user=users[0])["types"][0]["channels"] == {
        "in_app": False,
        "push": True,
        "email": False,
    }
    assert DeliverySettings.objects.get(user=users[0]).email_digest == "daily"

    on = client.post(
        "/herald/preferences/",
        {
            "shown": ["herald.message:in_app", "herald.message:push", "herald.message:email"],
            "on": ["herald.message:in_app", "herald.message:email"],
            "email_digest": "off",
        },
    )
    assert on.status_code == 302
    assert preference_selectors.preferences_of(user=users[0])["types"][0]["channels"] == {
        "in_app": True,
        "push": False,
        "email": True,
    }
    saved = client.get(on["Location"]).content.decode()
    assert "Your preferences are saved." in saved and "release thread" in saved

    unmuted = client.post("/herald/preferences/", {"unmute": other.pk})
    assert unmuted.status_code == 302 and not Mute.objects.exists()
    assert client.post("/herald/preferences/", {"unmute": other.pk}).status_code == 404


def test_a_tampered_form_gets_a_400_page_and_changes_nothing(client, users):
    client.force_login(users[0])

    bad_type = client.post("/herald/preferences/", {"shown": ["nope.nope:in_app"], "email_digest": "off"})
    bad_box = client.post("/herald/preferences/", {"shown": ["in_app"], "email_digest": "off"})
    bad_digest = client.post("/herald/preferences/", {"shown": [], "email_digest": "weekly"})
    bad_unmute = client.post("/herald/preferences/", {"unmute": "x"})

    assert bad_type.status_code == bad_box.status_code == bad_digest.status_code == bad_unmute.status_code == 400
    assert "unknown notification type" in bad_type.content.decode()
    assert not ChannelPreference.objects.exists() and not DeliverySettings.objects.exists()

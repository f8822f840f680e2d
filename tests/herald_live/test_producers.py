"""The Python API for background jobs, and the management command over it."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from herald_live import producers
from herald_live.models import Event
from web.home.forms import SendForm

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create_user(f"u{i}") for i in range(4)]


def test_notify_takes_a_user_ids_users_a_queryset_or_everyone(users, django_user_model):
    one = Event.objects.get(pk=producers.notify(recipients=users[0], verb="one"))
    ids = Event.objects.get(pk=producers.notify(recipients=[users[1].pk, users[2].pk, users[1].pk], verb="ids"))
    objects = Event.objects.get(pk=producers.notify(recipients=users[2:], verb="objects"))
    queryset = Event.objects.get(
        pk=producers.notify(recipients=django_user_model.objects.filter(pk__gt=users[1].pk), verb="qs")
    )
    everyone = Event.objects.get(pk=producers.notify(recipients=producers.EVERYONE, verb="all", level="success"))

    assert (one.audience, one.recipient) == ("user", users[0])
    assert (ids.audience, ids.recipient_ids) == ("users", [users[1].pk, users[2].pk])
    assert objects.recipient_ids == [users[2].pk, users[3].pk]
    assert queryset.recipient_ids == [users[2].pk, users[3].pk]
    assert (everyone.audience, everyone.level, everyone.status) == ("everyone", "success", "queued")


def test_notify_keeps_target_data_and_actor(users):
    event = Event.objects.get(
        pk=producers.notify(recipients=users[0], verb="x", actor=users[1], target=users[2], data={"url": "/a"})
    )

    assert (event.actor, event.target, event.data) == (users[1], users[2], {"url": "/a"})


def test_the_same_idempotency_key_gives_the_same_event(users):
    first = producers.notify(recipients=producers.EVERYONE, verb="x", idempotency_key="job-42")
    again = producers.notify(recipients=producers.EVERYONE, verb="x", idempotency_key="job-42")

    assert first == again
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"recipients": [], "verb": "x"}, "empty"),
        ({"recipients": "bob", "verb": "x"}, "recipients must be"),
        ({"recipients": [1.5], "verb": "x"}, "users or user ids"),
        ({"recipients": producers.EVERYONE, "verb": " "}, "verb"),
        ({"recipients": producers.EVERYONE, "verb": "x", "level": "loud"}, "level"),
        ({"recipients": producers.EVERYONE, "verb": "x", "data": {"f": object()}}, "JSON"),
        ({"recipients": producers.EVERYONE, "verb": "x", "idempotency_key": ""}, "idempotency_key"),
    ],
)
def test_bad_arguments_are_explained_and_record_nothing(users, kwargs, message):
    with pytest.raises(producers.InvalidNotification, match=message):
        producers.notify(**kwargs)
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"verb": "a\x00b"}, "verb must not contain NUL"),
        ({"verb": "a\ud800b"}, "verb must not contain lone surrogates"),
        ({"verb": "x", "data": {"k\x00": 1}}, "data keys must not contain NUL"),
        ({"verb": "x", "data": {"k": ["ok", {"deep": "v\x00"}]}}, "data values must not contain NUL"),
        ({"verb": "x", "data": {"k\udc00": 1}}, "data keys must not contain lone surrogates"),
        ({"verb": "x", "data": {"k": ("\ud83d",)}}, "data values must not contain lone surrogates"),
        ({"verb": "x", "data": {"k": float("nan")}}, "JSON"),
        ({"verb": "x", "idempotency_key": "job\x00"}, "idempotency_key must not contain NUL"),
    ],
)
def test_nul_and_lone_surrogates_are_refused_on_every_database(users, kwargs, message):
    # Before: recorded on SQLite; on PostgreSQL a database error (NUL) or an encoding error (surrogate).
    with pytest.raises(producers.InvalidNotification, match=message):
        producers.notify(recipients=[users[0].pk], **kwargs)
    assert not Event.objects.exists()


@pytest.mark.parametrize("verb", ["a\x00b", "a\ud800b"])
def test_the_command_and_the_send_form_refuse_them_too(users, verb):
    # Before: the command recorded them on SQLite; the form took a surrogate.
    with pytest.raises(CommandError, match="must not contain"):
        call_command("send_notification", "--user", "u1", "--verb", verb)
    form = SendForm({"recipient": "u1", "message": verb}, sender=users[0])

    assert not form.is_valid()
    assert form.errors["message"]
    assert not Event.objects.exists()


def test_event_status_reports_progress(users):
    event_id = producers.notify(recipients=producers.EVERYONE, verb="x")

    status = producers.event_status(event_id)

    assert status["id"] == event_id
    assert (status["status"], status["chunks_done"], status["rows_persisted"]) == ("queued", 0, 0)


def test_the_command_sends_to_named_users_and_reports_the_event(users, capsys):
    call_command("send_notification", "--user", "u1", "--user", "u2", "--verb", "hello", "--level", "warning")

    event = Event.objects.get()
    assert (event.recipient_ids, event.level) == ([users[1].pk, users[2].pk], "warning")
    assert f"event {event.pk} queued" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nobody", "--verb", "x"], "no such user: nobody"),
        (["--everyone", "--verb", "x", "--data", "{nope"], "--data is not JSON"),
        (["--everyone", "--verb", "x", "--actor", "ghost"], "no such user: ghost"),
        (["--everyone", "--verb", ""], "verb"),
        (["--user", "nul\x00name", "--verb", "x"], "--user must not contain NUL"),
        (["--everyone", "--verb", "x", "--actor", "\ud800"], "--actor must not contain lone surrogates"),
    ],
)
def test_the_command_explains_bad_options(users, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("send_notification", *args)
    assert not Event.objects.exists()


def test_event_status_command(users, capsys):
    event_id = producers.notify(recipients=producers.EVERYONE, verb="x")

    call_command("event_status", str(event_id))

    assert f'"id": {event_id}' in capsys.readouterr().out
    with pytest.raises(CommandError, match="no event"):
        call_command("event_status", "999999")


def test_listed_ids_of_no_active_user_are_refused_whole_and_each_one_named(users):
    users[3].is_active = False
    users[3].save()

    with pytest.raises(producers.UnknownRecipients) as refused:
        producers.notify(recipients=[users[0].pk, 999_999, users[3].pk, 999_999], verb="x")

    assert refused.value.user_ids == [999_999, users[3].pk]
    assert f"999999, {users[3].pk}; nothing was sent" in str(refused.value)
    assert isinstance(refused.value, producers.InvalidNotification)  # what notify() documents it raises
    assert not Event.objects.exists()


def test_users_and_querysets_are_the_sites_own_and_reach_their_active_members(users, django_user_model):
    users[3].is_active = False
    users[3].save()

    by_queryset = producers.notify(recipients=django_user_model.objects.all(), verb="qs")
    by_objects = producers.notify(recipients=users, verb="objects")

    assert Event.objects.get(pk=by_queryset).recipient_ids == [user.pk for user in users]
    assert Event.objects.get(pk=by_objects).status == Event.Status.QUEUED


def test_a_key_already_used_returns_its_event_even_once_a_recipient_is_gone(users):
    gone = users[0].pk
    first = producers.notify(recipients=[gone], verb="x", idempotency_key="weekly-1")
    users[0].delete()

    assert producers.notify(recipients=[gone], verb="x", idempotency_key="weekly-1") == first


def test_the_command_names_unknown_ids_and_sends_nothing(users):
    with pytest.raises(CommandError, match="No active user has the recipient ids 9999; nothing was sent"):
        call_command("send_notification", "--user-id", "9999", "--user-id", str(users[0].pk), "--verb", "hello")
    assert not Event.objects.exists()

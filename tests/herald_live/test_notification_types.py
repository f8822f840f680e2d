"""Notification types: registered in code with a default per channel, named by every producer door."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.utils.translation import gettext_lazy

from herald_live import notification_types, producers
from herald_live.actions import service_tokens
from herald_live.models import Event

pytestmark = pytest.mark.django_db


def register_for_test(monkeypatch, name: str, **options) -> notification_types.NotificationType:
    """Registers a type for one test only: the registry is restored after it."""
    monkeypatch.setattr(notification_types, "registry", dict(notification_types.registry))
    return notification_types.register(name, **{"label": name, **options})


@pytest.fixture
def comments(monkeypatch):
    return register_for_test(monkeypatch, "comment.created", label="Comments", email=False)


def test_herald_registers_its_message_type_on_in_every_channel():
    message = notification_types.get("herald.message")

    assert (message.name, str(message.label)) == ("herald.message", "Messages")
    assert [message.default(channel) for channel in ("in_app", "push", "email")] == [True, True, True]
    assert message.push_when_live is False
    assert notification_types.all_types()[0] == message
    assert Event._meta.get_field("notification_type").default == notification_types.DEFAULT == "herald.message"


def test_a_host_registers_its_types_with_defaults_and_a_translatable_label(comments, monkeypatch):
    late = notification_types.register("invoice.paid", label=gettext_lazy("Invoices"), push=False, push_when_live=True)

    assert notification_types.get("comment.created") == comments
    assert (comments.in_app, comments.push, comments.email) == (True, True, False)
    assert (late.push, late.push_when_live, str(late.label)) == (False, True, "Invoices")
    assert [kind.name for kind in notification_types.all_types()] == [
        "herald.message",
        "comment.created",
        "invoice.paid",
    ]
    # The same definition again (an AppConfig.ready() run twice) is harmless; other defaults are refused.
    assert notification_types.register("comment.created", label="Comments", email=False) == comments
    with pytest.raises(ValueError, match="registered already"):
        notification_types.register("comment.created", label="Comments")


@pytest.mark.parametrize(
    "name",
    ["", "Comment.created", "comment..created", ".comment", "comment.", "comment created", "1comment", "a" * 101, 7],
)
def test_a_bad_type_name_is_refused_with_the_rule(name, monkeypatch):
    monkeypatch.setattr(notification_types, "registry", dict(notification_types.registry))

    with pytest.raises(ValueError, match="notification type"):
        notification_types.register(name, label="x")
    assert len(notification_types.all_types()) == 1


def test_names_of_letters_digits_underscores_and_dashes_joined_by_dots_are_valid(monkeypatch):
    monkeypatch.setattr(notification_types, "registry", dict(notification_types.registry))

    for name in ("billing", "comment.created", "shop.order_2.shipped-late", "a" * 100):
        assert notification_types.register(name, label="x").name == name
    with pytest.raises(ValueError, match="needs a label"):
        notification_types.register("no.label", label="  ")


def test_an_unknown_type_is_a_clear_error_naming_the_registered_ones(comments):
    with pytest.raises(notification_types.UnknownNotificationType) as refused:
        notification_types.get("comment.deleted")

    assert "'comment.deleted'" in str(refused.value)
    assert "comment.created, herald.message" in str(refused.value) and "register" in str(refused.value)
    with pytest.raises(ValueError, match="unknown channel 'sms'"):
        comments.default("sms")


def test_a_type_this_process_does_not_know_counts_as_on_everywhere(comments):
    """A worker that runs older code than the web (a deploy in progress) delivers as before types existed."""
    assert notification_types.default_of("comment.created", "email") is False
    assert all(notification_types.default_of("shop.unknown", channel) for channel in ("in_app", "push", "email"))
    with pytest.raises(ValueError, match="unknown channel"):
        notification_types.default_of("shop.unknown", "sms")


def test_notify_and_record_name_the_type_and_refuse_an_unknown_one(comments, django_user_model):
    alice = django_user_model.objects.create_user("alice")

    default = Event.objects.get(pk=producers.notify(recipients=alice, verb="hi"))
    typed = Event.objects.get(pk=producers.notify(recipients=alice, verb="hi", notification_type="comment.created"))
    recorded, created = producers.record(recipients=[alice.pk], verb="x", notification_type="comment.created")

    assert (default.notification_type, typed.notification_type) == ("herald.message", "comment.created")
    assert created and recorded.notification_type == "comment.created"
    for bad in ("comment.deleted", None, 3):
        with pytest.raises(producers.InvalidNotification, match="type"):
            producers.notify(recipients=alice, verb="x", notification_type=bad)
    assert Event.objects.count() == 3


def test_the_http_api_takes_a_type_and_refuses_an_unknown_one(client, comments, django_user_model, settings):
    settings.HERALD_API_RATE_LIMIT = 0
    alice = django_user_model.objects.create_user("alice")
    token = service_tokens.create(name="blog")

    def send(body: dict, key: str | None = None):
        extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        if key:
            extra["HTTP_IDEMPOTENCY_KEY"] = key
        return client.post("/herald/api/v1/events", json.dumps(body), content_type="application/json", **extra)

    plain = send({"recipients": [alice.pk], "verb": "hi"})
    typed = send({"recipients": [alice.pk], "verb": "hi", "type": "comment.created"}, key="c-1")
    unknown = send({"recipients": [alice.pk], "verb": "hi", "type": "comment.deleted"})
    not_text = send({"recipients": [alice.pk], "verb": "hi", "type": ["comment.created"]})
    # The same key with another type is another body: refused, never answered with the earlier event.
    retyped = send({"recipients": [alice.pk], "verb": "hi"}, key="c-1")

    assert plain.status_code == typed.status_code == 202
    assert Event.objects.get(pk=plain.json()["event_id"]).notification_type == "herald.message"
    assert Event.objects.get(pk=typed.json()["event_id"]).notification_type == "comment.created"
    assert unknown.status_code == not_text.status_code == 400
    assert "unknown notification type 'comment.deleted'" in unknown.json()["errors"]["type"]
    assert retyped.status_code == 422
    assert Event.objects.count() == 2


def test_the_command_takes_a_type(comments, django_user_model, capsys):
    django_user_model.objects.create_user("alice")

    call_command("send_notification", "--user", "alice", "--verb", "new comment", "--type", "comment.created")
    with pytest.raises(CommandError, match="unknown notification type 'comment.deleted'"):
        call_command("send_notification", "--user", "alice", "--verb", "x", "--type", "comment.deleted")

    assert list(Event.objects.values_list("verb", "notification_type")) == [("new comment", "comment.created")]

"""The fan-out's unique index names the current content type of Herald's events, even after a flush."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from notifications.models import Notification

from herald_live.infra import unique_index
from herald_live.models import Event


def event_type_id() -> int:
    return ContentType.objects.get_for_model(Event).pk


@pytest.mark.django_db(transaction=True)
def test_after_a_flush_gives_content_type_ids_out_again_the_index_follows():
    other = ContentType.objects.get_for_model(Notification).pk
    with connection.schema_editor() as editor:
        unique_index.build(editor, model=Notification, content_type_id=other)  # as a flush leaves it
    assert unique_index.indexed_content_type_id(connection) == other

    call_command("flush", interactive=False, verbosity=0)  # post_migrate, as after every flush

    assert unique_index.indexed_content_type_id(connection) == event_type_id()
    assert unique_index.ensure(using="default") is False  # nothing to do once it is right


@pytest.mark.django_db
def test_the_index_refuses_a_second_row_for_an_event_and_leaves_other_senders_free(alice, bob):
    event = Event.objects.create(audience=Event.Audience.USER, recipient=alice, verb="x")
    fields = {
        "recipient": alice,
        "actor_content_type": ContentType.objects.get_for_model(bob),
        "actor_object_id": str(bob.pk),
        "verb": "x",
        "action_object_content_type_id": event_type_id(),
        "action_object_object_id": str(event.pk),
    }
    Notification.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(**fields)
    # The same action object of another model, twice: not Herald's, not constrained.
    fields["action_object_content_type_id"] = ContentType.objects.get_for_model(bob).pk
    Notification.objects.create(**fields)
    Notification.objects.create(**fields)

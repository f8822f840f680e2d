"""The one-statement chunk insert, on the suite's database (SQLite, and PostgreSQL in CI's second pass)."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from notifications.models import Notification

from herald_live.actions import sending
from herald_live.infra import bulk_insert
from herald_live.models import Event

pytestmark = pytest.mark.django_db

COMPARED = [f.attname for f in Notification._meta.concrete_fields if f.attname not in {"id", "recipient_id"}]


def template_for(event: Event, actor, **extra) -> Notification:
    return Notification(
        actor=actor,
        verb=event.verb,
        level=event.level,
        action_object_content_type=ContentType.objects.get_for_model(Event),
        action_object_object_id=str(event.pk),
        timestamp=timezone.now(),
        **extra,
    )


@pytest.fixture
def people(django_user_model):
    return [django_user_model.objects.create_user(f"p{i}") for i in range(4)]


@pytest.mark.parametrize(
    "data",
    [None, {"kind": "order", "lines": [1, 2.5, None], "note": '\'; DROP TABLE x; -- "quoted" é ✓'}],
)
def test_each_row_is_what_the_orm_would_have_written(people, data):
    event = sending.send_notification(actor=people[0], everyone=True, verb="shipped", level="success")
    template = template_for(event, people[0], data=data, description="d", target=people[3])

    inserted = bulk_insert.insert_for_recipients(template=template, recipient_ids=[people[1].pk, people[2].pk])

    assert sorted(recipient for _, recipient in inserted) == [people[1].pk, people[2].pk]
    created = Notification.objects.create(recipient=people[3], **{name: getattr(template, name) for name in COMPARED})
    orm = Notification.objects.get(pk=created.pk)
    for pk, recipient in inserted:
        row = Notification.objects.get(pk=pk)
        assert row.recipient_id == recipient
        assert {name: getattr(row, name) for name in COMPARED} == {name: getattr(orm, name) for name in COMPARED}
    assert Notification.objects.get(pk=inserted[0][0]).data == data


def test_rows_that_exist_are_skipped_and_not_returned(people):
    event = sending.send_notification(actor=people[0], everyone=True, verb="once", level="info")
    template = template_for(event, people[0])
    first = bulk_insert.insert_for_recipients(template=template, recipient_ids=[people[1].pk])

    second = bulk_insert.insert_for_recipients(template=template, recipient_ids=[p.pk for p in people])

    assert sorted(r for _, r in second) == sorted(p.pk for p in people if p.pk != people[1].pk)
    assert not {pk for pk, _ in first} & {pk for pk, _ in second}
    assert Notification.objects.filter(action_object_object_id=str(event.pk)).count() == len(people)
    assert bulk_insert.insert_for_recipients(template=template, recipient_ids=[p.pk for p in people]) == []


def test_nothing_to_insert_sends_no_statement(people, django_assert_num_queries):
    event = sending.send_notification(actor=people[0], everyone=True, verb="none", level="info")
    with django_assert_num_queries(0):
        assert bulk_insert.insert_for_recipients(template=template_for(event, people[0]), recipient_ids=[]) == []


def test_a_chunk_is_one_statement_whatever_its_size(django_user_model, django_assert_num_queries):
    django_user_model.objects.bulk_create([django_user_model(username=f"many{i}") for i in range(2500)])
    ids = list(django_user_model.objects.values_list("pk", flat=True))
    event = sending.send_notification(actor=None, everyone=True, verb="big", level="info")
    template = template_for(event, django_user_model.objects.first())

    with django_assert_num_queries(1) as captured:
        inserted = bulk_insert.insert_for_recipients(template=template, recipient_ids=ids)

    assert len(inserted) == len(ids) == Notification.objects.filter(verb="big").count()
    assert "RETURNING" in captured.captured_queries[0]["sql"]


def test_insert_one_writes_the_row_save_would_and_gives_it_its_id(django_user_model):
    """The send's one-statement INSERT (herald_live/infra/sql.py says why not save()): columns as save() writes them."""
    actor, bob = django_user_model.objects.create_user("actor-one"), django_user_model.objects.create_user("bob-one")
    data = {"nested": {"list": [1, "two", None]}, "text": "é ✓"}
    event = Event(actor=actor, audience=Event.Audience.USERS, recipient_ids=[bob.pk], verb="v", level="info", data=data)

    bulk_insert.insert_one(event)

    assert event.pk is not None and not event._state.adding
    stored = Event.objects.get(pk=event.pk)
    assert (stored.actor_id, stored.recipient_ids, stored.data, stored.status) == (actor.pk, [bob.pk], data, "queued")
    assert stored.created_at is not None and stored.created_at == event.created_at  # auto_now_add, as save() fills it
    again = Event(audience=Event.Audience.USER, recipient=bob, verb="w", level="info")
    bulk_insert.insert_one(again)
    assert again.pk > event.pk and Event.objects.get(pk=again.pk).recipient_ids is None


def test_insert_many_writes_every_instance():
    events = [Event(audience=Event.Audience.EVERYONE, verb=f"e{i}", level="info") for i in range(3)]
    ids = bulk_insert.insert_many(events, returning_ids=True)

    assert len(ids) == 3
    assert list(Event.objects.filter(pk__in=ids).order_by("pk").values_list("verb", flat=True)) == ["e0", "e1", "e2"]
    assert bulk_insert.insert_many([]) == []

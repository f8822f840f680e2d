"""Where a recorded event's fan-out runs (herald_live/delivery/routing.py)."""

from __future__ import annotations

import pytest

from herald_live.delivery import routing
from herald_live.models import Event

pytestmark = pytest.mark.django_db


def test_small_events_are_routed_to_the_interactive_queue_and_big_ones_to_bulk(django_user_model, settings):
    settings.HERALD_INTERACTIVE_MAX_RECIPIENTS = 2
    alice = django_user_model.objects.create_user("alice")

    def event(**fields) -> Event:
        return Event(actor=alice, verb="x", **fields)

    assert routing.queue_for(event(audience="user", recipient=alice)) == "herald.interactive"
    assert routing.queue_for(event(audience="users", recipient_ids=[1, 2])) == "herald.interactive"
    assert routing.queue_for(event(audience="users", recipient_ids=[1, 2, 3])) == "herald.bulk"
    assert routing.queue_for(event(audience="everyone")) == "herald.bulk"

"""Live sessions by user (herald_live/selectors/sessions.py): the rooms every fan-out publishes to."""

from __future__ import annotations

import pytest

from herald_live import wire
from herald_live.selectors import sessions as session_selectors
from tests.support.sessions import live_session

pytestmark = pytest.mark.django_db


def rooms_of(*keys: str) -> list[str]:
    return sorted(wire.session_room(wire.session_digest(key)) for key in keys)


@pytest.fixture
def ten(django_user_model):
    return [django_user_model.objects.create_user(f"s{i}") for i in range(10)]


def test_dense_ids_get_their_live_sessions_and_nobody_elses(ten):
    keys = {user.pk: [live_session(user), live_session(user)] for user in ten}
    expired = live_session(ten[2], expired=True)
    wanted = [user.pk for user in ten if user is not ten[4]]  # a gap inside the range

    rooms = session_selectors.live_session_rooms(user_ids=wanted)

    assert set(rooms) == set(wanted)
    for pk in wanted:
        assert sorted(rooms[pk]) == rooms_of(*keys[pk])
    assert wire.session_room(wire.session_digest(expired)) not in rooms[ten[2].pk]


def test_sparse_ids_get_their_live_sessions_and_nobody_elses(ten):
    keys = {user.pk: live_session(user) for user in ten}
    wanted = [ten[0].pk, ten[9].pk]  # a range would span eight users nobody asked for

    rooms = session_selectors.live_session_rooms(user_ids=wanted)

    assert {pk: sorted(r) for pk, r in rooms.items()} == {pk: rooms_of(keys[pk]) for pk in wanted}


def test_no_ids_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert session_selectors.live_session_rooms(user_ids=[]) == {}

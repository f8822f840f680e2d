"""Which ids are recipients (herald_live/selectors/users.py): asked by every send and every drain."""

from __future__ import annotations

import pytest

from herald_live.selectors import users as user_selectors

pytestmark = pytest.mark.django_db


def test_active_user_ids_are_the_listed_ids_of_active_users_only(django_user_model, django_assert_num_queries):
    alice = django_user_model.objects.create_user("active-alice")
    gone = django_user_model.objects.create_user("inactive-gone", is_active=False)
    listed = [alice.pk, gone.pk, alice.pk, 10**12]  # a repeat and an id nobody has

    with django_assert_num_queries(1):
        assert user_selectors.active_user_ids(user_ids=listed) == {alice.pk}
    with django_assert_num_queries(0):
        assert user_selectors.active_user_ids(user_ids=[]) == set()
    # As many ids as the API takes, one parameter: SQLite's limit on parameters never comes into it.
    many = [alice.pk, *range(10**9, 10**9 + 9_999)]
    assert user_selectors.active_user_ids(user_ids=many) == {alice.pk}

"""Plain SQL helpers (herald_live/infra/sql.py), on the suite's database (SQLite; PostgreSQL in CI's second pass)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from herald_live.infra import sql

pytestmark = pytest.mark.django_db


def test_one_of_matches_exactly_the_listed_integers(django_user_model):
    users = [django_user_model.objects.create_user(f"sql-{i}") for i in range(4)]
    model = get_user_model()
    pk = sql.quote(model._meta.pk.column)

    condition, params = sql.one_of(pk, [users[0].pk, users[2].pk, users[2].pk])
    found = sql.rows(f"SELECT {pk} FROM {sql.table(model)} WHERE {condition} ORDER BY {pk}", params)  # noqa: S608

    assert [row[0] for row in found] == [users[0].pk, users[2].pk]
    assert len(params) == 1  # however many ids


def test_one_of_texts_matches_the_listed_strings(django_user_model):
    for name in ("ann", "ben", "cy"):
        django_user_model.objects.create_user(name)
    model = get_user_model()
    username = sql.column(model, "username")

    condition, params = sql.one_of_texts(username, ["cy", "ann", "nobody"])
    found = sql.rows(f"SELECT {username} FROM {sql.table(model)} WHERE {condition} ORDER BY {username}", params)  # noqa: S608

    assert [row[0] for row in found] == ["ann", "cy"]

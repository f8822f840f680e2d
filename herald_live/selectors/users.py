"""Which users are recipients: the active ones, by id or in chunks of everyone."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.contrib.auth import get_user_model

from herald_live.infra import sql


def active_user_ids(*, user_ids: Iterable[int]) -> set[int]:
    """Which of these ids are active users, in one plain statement (one parameter, however many ids).

    Asked in every send request and every drain (herald_live/infra/sql.py says why not the ORM).
    """
    model = get_user_model()
    wanted = set(user_ids)
    if not wanted:
        return set()
    pk = sql.quote(model._meta.pk.column)
    condition, params = sql.one_of(pk, wanted)
    statement = f"SELECT {pk} FROM {sql.table(model)} WHERE {condition}"  # noqa: S608
    if any(field.name == "is_active" for field in model._meta.concrete_fields):
        # A custom user model without the field counts every user active, as Django's ModelBackend does.
        statement += f" AND {sql.column(model, 'is_active')}"
    return {row[0] for row in sql.rows(statement, params)}


def active_user_id_chunks(*, size: int) -> Iterator[list[int]]:
    """Keyset pagination over active users, so 100k recipients never sit in one list."""
    users = get_user_model().objects.filter(is_active=True).order_by("pk")
    last = 0
    while True:
        chunk = list(users.filter(pk__gt=last).values_list("pk", flat=True)[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1]

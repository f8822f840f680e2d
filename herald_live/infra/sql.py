"""Plain SQL for the statements every send runs: the ORM compiles each query anew, about a
millisecond of CPU apiece on this project's two-core reference machine, more than the database
spends answering them (issue 13). Names come from the models, quoted by the backend; every value
is a parameter.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def column(model, field_name: str) -> str:
    return quote(model._meta.get_field(field_name).column)


def table(model) -> str:
    return quote(model._meta.db_table)


def one_of(column_sql: str, values: Iterable[int]) -> tuple[str, list]:
    """``column_sql`` is one of these integers: one parameter however many (PostgreSQL's ANY, SQLite's json_each)."""
    wanted = sorted({int(value) for value in values})
    if connection.vendor == "postgresql":
        return f"{column_sql} = ANY(%s)", [wanted]
    listed = f"{column_sql} IN (SELECT value FROM json_each(%s))"  # noqa: S608 - a quoted name
    return listed, ["[" + ",".join(map(str, wanted)) + "]"]


def one_of_texts(column_sql: str, values: Iterable[str]) -> tuple[str, list]:
    wanted = sorted(set(values))
    return f"{column_sql} IN ({', '.join('%s' for _ in wanted)})", wanted


def prepared(model, field_name: str, value):
    """A value as the field sends it to this database (a datetime is text on SQLite)."""
    return model._meta.get_field(field_name).get_db_prep_value(value, connection)


def rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()

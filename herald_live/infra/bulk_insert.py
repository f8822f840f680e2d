"""One INSERT statement for a chunk of notification rows that differ only in their recipient.

A fan-out chunk writes up to a thousand rows that share every column but ``recipient_id``.
``bulk_create`` would build a model instance per row and send every column of every row as
a parameter (17,000 for a chunk), which the database then has to parse; on two cores that
parsing and the Python around it were a third of a chunk's time, taken from the send
requests running beside it. Here the shared values are sent once and the database expands
them over an array of recipient ids, and RETURNING hands back the new rows' ids in the same
round trip.

The columns and their values come from the model itself (a template instance, prepared by
each field as ``bulk_create`` would), so a new column in django-notifications is picked up,
not silently left out.
"""

from __future__ import annotations

from django.db import connection
from notifications.swappable import load_notification_model as notification_model

RECIPIENT_COLUMN = "recipient_id"


def insert_for_recipients(*, template, recipient_ids: list[int]) -> list[tuple[int, int]]:
    """Inserts ``template`` once per recipient, skipping (recipient, event) rows that exist.

    Returns (id, recipient_id) of the rows this call inserted; a row that already existed
    (a re-run, or a racing attempt) is skipped by the unique index and not returned.
    """
    if not recipient_ids:
        return []
    quote = connection.ops.quote_name
    fields = [
        field
        for field in notification_model()._meta.concrete_fields
        if field.column != RECIPIENT_COLUMN and not field.primary_key
    ]
    values = [field.get_db_prep_save(field.pre_save(template, add=True), connection) for field in fields]
    columns = ", ".join(quote(field.column) for field in [*fields, notification_model()._meta.get_field("recipient")])
    table = quote(notification_model()._meta.db_table)
    returning = f"RETURNING {quote('id')}, {quote(RECIPIENT_COLUMN)}"
    # Identifiers and types below come from the model, quoted by the backend; every value is a parameter.
    if connection.vendor == "postgresql":
        # Typed placeholders: an untyped NULL in a SELECT list would be read as text.
        shared = ", ".join(f"CAST(%s AS {field.db_type(connection)})" for field in fields)
        id_type = notification_model()._meta.get_field("recipient").target_field.rel_db_type(connection)
        sql = (
            f"INSERT INTO {table} ({columns}) SELECT {shared}, r FROM unnest(CAST(%s AS {id_type}[])) AS u(r) "  # noqa: S608
            f"ON CONFLICT DO NOTHING {returning}"
        )
        params = [*values, list(recipient_ids)]
    elif connection.vendor == "sqlite":
        # WHERE true: SQLite needs it to tell the upsert's ON from a join's.
        shared = ", ".join("%s" for _ in fields)
        sql = (
            f"INSERT INTO {table} ({columns}) SELECT {shared}, CAST(value AS integer) FROM json_each(%s) WHERE true "  # noqa: S608
            f"ON CONFLICT DO NOTHING {returning}"
        )
        params = [*values, "[" + ",".join(str(int(pk)) for pk in recipient_ids) + "]"]
    else:
        raise NotImplementedError(f"no bulk notification insert for the {connection.vendor} backend")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(row[0], row[1]) for row in cursor.fetchall()]


def insert_rows(*, rows: list[tuple[object, int]]) -> list[tuple[int, int, str]]:
    """Inserts one row per (template, recipient id), templates that differ (the events of a coalesced batch).

    One multi-row statement, unique (event, recipient) rows skipped as above. Returns (id, recipient_id,
    action_object_object_id) of the rows this call inserted.
    """
    if not rows:
        return []
    quote = connection.ops.quote_name
    model = notification_model()
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(quote(field.column) for field in fields)
    params: list = []
    for template, recipient_id in rows:
        template.recipient_id = recipient_id
        params.extend(field.get_db_prep_save(field.pre_save(template, add=True), connection) for field in fields)
    placeholders = "(" + ", ".join("%s" for _ in fields) + ")"
    action_object_id = quote(model._meta.get_field("action_object_object_id").column)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {', '.join([placeholders] * len(rows))} "  # noqa: S608
        f"ON CONFLICT DO NOTHING RETURNING {quote('id')}, {quote(RECIPIENT_COLUMN)}, {action_object_id}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(row[0], row[1], row[2]) for row in cursor.fetchall()]


def insert_one(instance) -> None:
    """INSERTs a new model instance in one statement that hands back its id; what ``save()`` does for it.

    Plain SQL (herald_live/infra/sql.py says why): values are prepared by each field as ``save()`` would
    (``pre_save`` fills ``auto_now_add``). No save signals are sent: for models nothing listens to
    (Herald's Event).
    """
    (instance.pk,) = insert_many([instance], returning_ids=True)
    instance._state.adding = False
    instance._state.db = connection.alias


def insert_many(instances: list, *, returning_ids: bool = False) -> list[int]:
    """INSERTs new instances of one model in one statement, as ``bulk_create`` would, without signals."""
    if not instances:
        return []
    model = type(instances[0])
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    params = [
        field.get_db_prep_save(field.pre_save(instance, add=True), connection)
        for instance in instances
        for field in fields
    ]
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = "(" + ", ".join("%s" for _ in fields) + ")"
    statement = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 - names from the model
        f"VALUES {', '.join([placeholders] * len(instances))}"
    )
    if returning_ids:
        statement += f" RETURNING {quote(model._meta.pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return [row[0] for row in cursor.fetchall()] if returning_ids else []

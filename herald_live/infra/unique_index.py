"""The partial unique index that makes a fan-out idempotent: one row per (Herald event, recipient).

It lives on the notification model's table, which other senders share, so it covers only rows whose
action object is a Herald event: its predicate names the content type of ``herald_live.Event``. Content
type ids belong to the database, not to the code: ``flush`` (and every TransactionTestCase) gives them
out again, so after every ``migrate`` and ``flush`` (post_migrate) the index is checked against the
current id and rebuilt if it names another. Otherwise a re-run could double rows, and some other
model's notifications would be constrained by mistake.
"""

from __future__ import annotations

import re

INDEX = "herald_notification_event_recipient"


def build(schema_editor, *, model, content_type_id: int) -> None:
    """(Re)creates the index on ``model``'s table; every identifier comes from the model."""
    quote = schema_editor.quote_name
    meta = model._meta
    object_id = meta.get_field("action_object_object_id").column
    recipient = meta.get_field("recipient").column
    content_type = meta.get_field("action_object_content_type").column
    schema_editor.execute(f"DROP INDEX IF EXISTS {quote(INDEX)}")
    schema_editor.execute(
        f"CREATE UNIQUE INDEX {quote(INDEX)} ON {quote(meta.db_table)} ({quote(object_id)}, {quote(recipient)}) "
        # An integer read from this database; DDL takes no bound parameters on every backend.
        f"WHERE {quote(content_type)} = {int(content_type_id)}"
    )


def indexed_content_type_id(connection) -> int | None:
    """The content type id the index's predicate names now; None without the index."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [INDEX])
        else:
            cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = %s", [INDEX])
        row = cursor.fetchone()
    if row is None or not row[0]:
        return None
    found = re.search(r"=\s*'?(\d+)'?\)*\s*$", row[0])
    return int(found.group(1)) if found else None


def ensure(*, using: str) -> bool:
    """Rebuilds the index when it names a stale content type; True when it did."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connections
    from notifications.swappable import load_notification_model

    from herald_live.models import Event

    connection = connections[using]
    current = ContentType.objects.db_manager(using).get_for_model(Event).pk
    if indexed_content_type_id(connection) == current:
        return False
    with connection.schema_editor() as schema_editor:
        build(schema_editor, model=load_notification_model(), content_type_id=current)
    return True

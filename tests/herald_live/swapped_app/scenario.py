"""Runs Herald end to end on a swapped notification model, in a process of its own (see test_swapped_model.py).

Prints one JSON object of what it observed; the test asserts on it.
"""

from __future__ import annotations

import json
from datetime import timedelta


def run() -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from notifications.signals import notify
    from user_sessions.models import Session

    from herald_live import producers
    from herald_live.actions import read_state
    from herald_live.delivery import fanout, publish
    from herald_live.selectors import notifications
    from tests.herald_live.swapped_app.models import Notice

    call_command("migrate", verbosity=0)
    call_command("check", verbosity=0)
    User = get_user_model()
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob")
    Session.objects.create(
        session_key="s" * 32, session_data="", expire_date=timezone.now() + timedelta(hours=1), user=alice
    )

    notify.send(bob, recipient=alice, verb="stock send")
    stock_row = Notice.objects.get(verb="stock send")
    published = publish.publish_notifications(notification_ids=[stock_row.pk])

    event_id = producers.notify(recipients=[alice], verb="herald send", actor=bob)
    fanout.fan_out_event(event_id=event_id)
    fanout.fan_out_chunk(event_id=event_id, index=0)  # a re-run: the unique index keeps one row
    page = notifications.notification_page(user=alice, unread_only=True, before_id=None, limit=10)
    up_to_id = read_state.mark_all_read(user=alice)
    with connection.cursor() as cursor:
        cursor.execute("SELECT tbl_name FROM sqlite_master WHERE name = 'herald_notification_event_recipient'")
        index_table = cursor.fetchone()[0]
    print(
        json.dumps(
            {
                "rows": sorted(Notice.objects.values_list("verb", flat=True)),
                "published_sessions": published,
                "page": [item["verb"] for item in page["notifications"]],
                "unread_after_mark_all": Notice.objects.filter(unread=True).count(),
                "up_to_id": up_to_id,
                "max_id": max(Notice.objects.values_list("pk", flat=True)),
                "index_table": index_table,
            }
        )
    )


if __name__ == "__main__":
    import django

    django.setup()
    run()

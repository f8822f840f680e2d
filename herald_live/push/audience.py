"""Who gets a web push, decided inside the fan-out's transactions (docs/channels.md, "Web push").

The fan-out calls ``enqueue_on_commit`` inside each chunk's transaction (the drain,
``enqueue_rows_on_commit`` inside each batch's): it picks the recipients who need a push (no live
socket on any pusher (infra/presence.py), or a type that pushes anyway; push on for the type; a device
subscribed) and, after commit, enqueues ONE ``herald.send_push`` task with their notification ids on
HERALD_PUSH_QUEUE (push/send.py sends them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import partial

from django.db import transaction

from herald_live import notification_types
from herald_live.infra import presence
from herald_live.models import Channel, Event
from herald_live.push import selectors, send, vapid
from herald_live.selectors import preferences


def enqueue_on_commit(*, event: Event, rows: list[dict], rooms_by_user: dict[int, list[str]]) -> None:
    """Within a fan-out chunk's transaction: one push task for the chunk's rows that need one, after commit.

    ``rows`` are the chunk's unread rows (id, recipient_id); ``rooms_by_user`` its unexpired sessions' rooms.
    """
    enqueue_rows_on_commit(rows=((event, row) for row in rows), rooms_by_user=rooms_by_user)


def enqueue_rows_on_commit(*, rows: Iterable[tuple[Event, dict]], rooms_by_user: dict[int, list[str]]) -> None:
    """Rows of any number of events (a chunk, a batch of one-recipient events): one task after commit.

    Each row is (its event, {"id", "recipient_id", "unread"?}); ``rooms_by_user`` the recipients'
    unexpired sessions' rooms. A recipient is live (no push, unless the type pushes when live) while a
    pusher reports a socket for one of those sessions. Costs nothing when push is off, one query when no
    recipient has a device subscribed; otherwise one Redis round trip if any of those has a session, and
    one query per notification type.
    """
    if not vapid.configured():
        return
    unread = [(event, row) for event, row in rows if row.get("unread", True)]
    subscribed = selectors.subscribed_user_ids(user_ids={row["recipient_id"] for _, row in unread})
    if not subscribed:
        return
    subscribed_rows = [
        (event, _push_when_live(event), row) for event, row in unread if row["recipient_id"] in subscribed
    ]
    live = presence.live_users(
        rooms_by_user={
            row["recipient_id"]: rooms_by_user[row["recipient_id"]]
            for _, when_live, row in subscribed_rows
            if not when_live and rooms_by_user.get(row["recipient_id"])
        }
    )
    candidates: list[tuple[str, int, int]] = [  # (type, recipient, notification)
        (event.notification_type, row["recipient_id"], row["id"])
        for event, when_live, row in subscribed_rows
        if when_live or row["recipient_id"] not in live
    ]
    by_type: dict[str, set[int]] = defaultdict(set)
    for kind, user_id, _ in candidates:
        by_type[kind].add(user_id)
    wanted = {
        (kind, user_id)
        for kind, user_ids in by_type.items()
        for user_id in preferences.enabled_users(notification_type=kind, channel=Channel.PUSH, user_ids=user_ids)
    }
    notification_ids = sorted(nid for kind, user_id, nid in candidates if (kind, user_id) in wanted)
    if notification_ids:
        transaction.on_commit(partial(send.enqueue_send, notification_ids=notification_ids))


def _push_when_live(event: Event) -> bool:
    try:
        return notification_types.get(event.notification_type).push_when_live
    except notification_types.UnknownNotificationType:
        return False  # a type this process does not know yet (a deploy in progress): as the default

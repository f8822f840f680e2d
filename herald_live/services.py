"""Write-side services: where sends are recorded and state changes are published.

Views, the Python API (producers.notify), tasks and management commands call these
functions. Requests only record and enqueue; the fan-out itself is in fanout.py and runs
in workers.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext, suppress
from datetime import timedelta
from functools import partial

import redis
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from notifications.swappable import load_notification_model as notification_model
from redis import ConnectionError as RedisConnectionError
from redis import RedisError
from user_sessions.models import Session

from herald_live import bulk_insert, health, notification_types, publisher, push_subscriptions, selectors, wire
from herald_live.conf import app_settings
from herald_live.health import broker_client
from herald_live.models import Event

logger = logging.getLogger(__name__)
User = get_user_model()

# How long a "drain scheduled" mark outlives a drain task that never ran (schedule_pending_fan_out).
PENDING_MARK_SECONDS = 10
# How long the mark of a running drain outlives it, should its worker die (the drain renews it every second).
HELD_MARK_SECONDS = 3


def worker_tasks():
    # Imported late: herald_live.tasks imports this module.
    from herald_live import tasks

    return tasks


def interactive():
    # Imported late: herald_live.interactive imports fanout, which imports this module.
    from herald_live import interactive

    return interactive


class BrokerUnavailable(RedisConnectionError):
    """The message queue does not answer: nothing was recorded."""


def send_notification(*, actor, recipient=None, everyone: bool = False, verb: str, level: str) -> Event:
    """What the send form does: one user or everyone, from a logged-in user."""
    if everyone == (recipient is not None):
        raise ValueError("name exactly one of recipient or everyone")
    event, _ = record_event(
        actor=actor,
        audience=Event.Audience.EVERYONE if everyone else Event.Audience.USER,
        recipient=recipient,
        verb=verb,
        level=level,
    )
    return event


def record_event(
    *,
    actor=None,
    audience: str,
    recipient=None,
    recipient_ids: list[int] | None = None,
    verb: str,
    level: str,
    target=None,
    data: dict | None = None,
    idempotency_key: str | None = None,
    service_token=None,
    idempotency_fingerprint: str = "",
    notification_type: str = notification_types.DEFAULT,
) -> tuple[Event, bool]:
    """Records one event (one row, whatever the audience) and enqueues its fan-out on commit.

    Returns (event, created): with an idempotency key already used, the earlier event and
    False, and nothing is enqueued again. A dead broker is found before anything is written
    (BrokerUnavailable; probed at most once a second per process, health.broker_answered_recently);
    should it die between that check and the commit, the event is
    recorded all the same and the re-drive enqueues it later: an accepted send is never lost.
    The HTTP API's token and body fingerprint go into the same INSERT: a request racing with the
    same key sees the event with both, or not at all, without a transaction around two statements.
    """
    if idempotency_key:
        existing = Event.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
    if not health.broker_answered_recently():
        raise BrokerUnavailable("the message queue does not answer")
    fields = {
        "actor": actor,
        "audience": audience,
        "recipient": recipient,
        "recipient_ids": recipient_ids,
        "verb": verb,
        "level": level,
        "data": data,
        "idempotency_key": idempotency_key or None,
        "service_token": service_token,
        "idempotency_fingerprint": idempotency_fingerprint,
        "notification_type": notification_type,
    }
    if target is not None:
        fields["target_content_type"] = ContentType.objects.get_for_model(target)
        fields["target_object_id"] = str(target.pk)
    try:
        # One INSERT commits by itself: outside a caller's transaction, BEGIN and COMMIT would be two
        # more round trips in every send request. Inside one, a savepoint keeps a lost race harmless.
        event = Event(**fields)
        with transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext():
            bulk_insert.insert_one(event)
        transaction.on_commit(partial(enqueue_fan_out, event=event))
    except IntegrityError:
        # Two producers raced with the same key: the other one won.
        if idempotency_key and (existing := Event.objects.filter(idempotency_key=idempotency_key).first()):
            return existing, False
        raise
    logger.info(
        "event recorded event_id=%s audience=%s actor_id=%s", event.pk, event.audience, actor.pk if actor else None
    )
    return event, True


def queue_for(event: Event) -> str:
    """Few recipients: the interactive queue. Everyone or a long list: the bulk queue."""
    few = event.audience == Event.Audience.USER or (
        event.audience == Event.Audience.USERS
        and len(event.recipient_ids or []) <= app_settings.INTERACTIVE_MAX_RECIPIENTS
    )
    return app_settings.INTERACTIVE_QUEUE if few else app_settings.BULK_QUEUE


def enqueue_fan_out(*, event: Event, coalesce: bool = True) -> bool:
    """Asks a worker for the event's fan-out; False (logged) when the queue did not take it.

    An event for one user or a few joins the queued ones that the next drain fans out together
    (herald_live/interactive.py); the re-drive passes ``coalesce=False`` for the events a drain
    leaves alone: failed ones, and those stuck part-way.
    """
    try:
        if coalesce and interactive().coalesced(event):
            schedule_pending_fan_out()
        else:
            worker_tasks().fan_out.apply_async((event.pk,), queue=queue_for(event))
    except (BrokerError, RedisError):
        health.forget_broker_answer()
        logger.warning("enqueue failed event_id=%s; the re-drive will enqueue it", event.pk)
        return False
    return True


def _drain_mark() -> tuple[redis.Redis | None, str]:
    """The broker's Redis and the key that says "a drain is queued and has not started yet"."""
    return broker_client(), f"{app_settings.CHANNEL_PREFIX}:fan-out-pending-scheduled"


def schedule_pending_fan_out(*, countdown: float | None = None, hand_over: bool = False) -> None:
    """Enqueues a drain of the queued one-user events, unless the mark says one is queued or running.

    A running drain keeps the mark up while it finds work and takes it down before its last look
    (``interactive.drain``), so an event committed before this call is seen either by the drain
    that holds the mark or by the one this call enqueues: none waits for the re-drive. The mark
    expires in case its task is lost (a broker that lost its data); a spare drain then costs one
    empty query. ``hand_over``: a drain that holds the mark enqueues its successor, which inherits it.
    """
    client, key = _drain_mark()
    if client is not None:
        if hand_over:
            client.set(key, "1", ex=PENDING_MARK_SECONDS)
        elif not client.set(key, "1", nx=True, ex=PENDING_MARK_SECONDS):
            return
    try:
        worker_tasks().fan_out_pending.apply_async(queue=app_settings.INTERACTIVE_QUEUE, countdown=countdown)
    except (BrokerError, RedisError):
        if client is not None:
            with suppress(RedisError):
                client.delete(key)
        raise


def hold_pending_fan_out_mark(*, only_if_down: bool = False) -> bool:
    """A drain puts the mark up (again) for the time it runs: sends meanwhile count on it, enqueue nothing.

    Held for a few seconds at a time and renewed: a drain whose worker dies leaves the sends that counted
    on it for its redelivery, or for the first drain after the mark runs out. ``only_if_down``: False
    when a send put it up meanwhile (and enqueued the next drain).
    """
    client, key = _drain_mark()
    if client is None:
        return True
    return bool(client.set(key, "1", nx=only_if_down, ex=HELD_MARK_SECONDS))


def take_pending_fan_out_mark() -> None:
    client, key = _drain_mark()
    if client is not None:
        client.delete(key)


def redrive_stalled_events(*, older_than_seconds: int) -> list[int]:
    """Enqueues again the events recorded but not done, untouched for a while.

    Their task was lost (enqueue failed, broker lost its data) or their worker died. A
    run that overlaps a live one costs time, not correctness: chunks commit once, rows are
    unique, and clients deduplicate by id.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stalled = Event.objects.filter(
        status__in=[Event.Status.QUEUED, Event.Status.FANNING_OUT, Event.Status.FAILED], updated_at__lt=cutoff
    )
    events = list(stalled.order_by("pk").only("pk", "audience", "recipient_ids", "status")[:1000])
    drained = False
    for event in events:
        # Touch first, so that the next sweep leaves it alone while this attempt runs.
        Event.objects.filter(pk=event.pk).update(updated_at=timezone.now())
        if event.status == Event.Status.QUEUED and interactive().coalesced(event):
            # Still queued: a drain takes it (a task of its own could run beside a drain, on the same event).
            drained = drained or enqueue_fan_out(event=event)
        else:
            enqueue_fan_out(event=event, coalesce=False)
    if events:
        logger.info("re-drive enqueued events=%s", len(events))
    return [event.pk for event in events]


def mark_all_read(*, user) -> int | None:
    """Marks every notification of the user read; returns the highest id it covered.

    The id travels with the live event so that a notification that arrives meanwhile
    stays unread in every tab.
    """
    with transaction.atomic():
        up_to_id = notification_model().objects.filter(recipient=user).aggregate(top=Max("id"))["top"]
        if up_to_id is None:
            return None
        notification_model().objects.filter(recipient=user, unread=True, id__lte=up_to_id).update(unread=False)
        publish_all_read_on_commit(user_id=user.pk, up_to_id=up_to_id)
    return up_to_id


def publish_all_read_on_commit(*, user_id: int, up_to_id: int) -> None:
    _publish_to_user_on_commit(user_id=user_id, envelope=wire.notifications_read(up_to_id=up_to_id))


def publish_resync_on_commit(*, user_id: int) -> None:
    """The user's state changed in a way no single event describes: every session refetches it."""
    _publish_to_user_on_commit(user_id=user_id, envelope=wire.notifications_changed())


def mark_read(*, user, notification_id: int) -> bool:
    """Marks one of the user's notifications read; False when the user has no such notification."""
    with transaction.atomic():
        updated = selectors.notifications_of(user=user).filter(pk=notification_id).update(unread=False)
        if updated:
            _publish_to_user_on_commit(
                user_id=user.pk, envelope=wire.notification_read(notification_id=notification_id)
            )
    return bool(updated)


def mark_unread(*, user, notification_id: int) -> dict | None:
    """Marks one of the user's notifications unread again; its payload, or None when the user has no such one."""
    with transaction.atomic():
        rows = selectors.notifications_of(user=user).filter(pk=notification_id)
        if not rows.update(unread=True):
            return None
        payload = selectors.serialize_notification(rows.get())
        _publish_to_user_on_commit(user_id=user.pk, envelope=wire.notification_unread(payload))
    return payload


def publish_state_on_commit(*, notification_id: int) -> None:
    """A notification was saved outside Herald's services (django-notifications' views, ``mark_as_read()``,
    the admin): after commit, a worker tells every live session of its recipient the row's state then."""
    _enqueue_on_commit(worker_tasks().publish_notification_state, notification_id)


def publish_notification_state(*, notification_id: int) -> int:
    """What a notification is now (read, unread or gone), to every live session of its recipient.

    Read in the worker, not in the request: two quick changes of one row published by two workers
    at once both say its latest state, so no tab ends up with them applied in the wrong order.
    """
    row = notification_model().objects.filter(pk=notification_id).prefetch_related("actor", "target").first()
    if row is None:
        return 0  # deleted since: its recipient's clients drop it at their next sync
    if row.deleted:
        envelope = wire.notification_deleted(notification_id=row.pk)
    elif row.unread:
        envelope = wire.notification_unread(selectors.serialize_notification(row))
    else:
        envelope = wire.notification_read(notification_id=row.pk)
    return publish_to_user(user_id=row.recipient_id, envelope=envelope)


def publish_deleted_on_commit(*, user_id: int, notification_id: int) -> None:
    _publish_to_user_on_commit(user_id=user_id, envelope=wire.notification_deleted(notification_id=notification_id))


def publish_created_on_commit(*, notification_ids: list[int]) -> None:
    """Rows written by someone else (django-notifications' ``notify.send``): published after commit,
    by workers, in chunks; the request only enqueues."""
    ids = [pk for pk in notification_ids if pk is not None]
    if not ids:
        return
    size = app_settings.FANOUT_CHUNK_SIZE
    queue = (
        app_settings.INTERACTIVE_QUEUE
        if len(ids) <= app_settings.INTERACTIVE_MAX_RECIPIENTS
        else app_settings.BULK_QUEUE
    )

    for start in range(0, len(ids), size):
        _enqueue_on_commit(worker_tasks().publish_notifications, ids[start : start + size], queue=queue)


def publish_notifications(*, notification_ids: list[int]) -> int:
    """Publishes stored notifications to every live session of their recipients; returns the sessions reached."""
    rows = list(
        notification_model()
        .objects.filter(pk__in=notification_ids, unread=True, deleted=False)
        .prefetch_related("actor", "target")
        .order_by("pk")
    )
    rooms_by_user = selectors.live_session_rooms(user_ids={row.recipient_id for row in rows})
    messages = [
        (rooms_by_user[row.recipient_id], wire.notification_created(selectors.serialize_notification(row)))
        for row in rows
        if rooms_by_user.get(row.recipient_id)
    ]
    publisher.emit_batch(messages=messages)
    return sum(len(rooms) for rooms, _ in messages)


def _publish_to_user_on_commit(*, user_id: int, envelope: dict) -> None:
    _enqueue_on_commit(worker_tasks().publish_to_user, user_id, envelope)


def _enqueue_on_commit(task, *args, queue: str | None = None) -> None:
    """After commit, enqueues a live update that is best-effort by design.

    The database already holds the change, and every client refetches its state when it
    (re)connects, so a broker that does not answer costs liveness only: it is logged, and never
    turns a committed change (a mark read, a logout, a host's own save) into an error page.
    """

    def enqueue() -> None:
        try:
            task.apply_async(args, queue=queue or app_settings.INTERACTIVE_QUEUE)
        except (BrokerError, RedisError, OSError):
            logger.warning("live update not enqueued task=%s: the message queue does not answer", task.name)

    transaction.on_commit(enqueue)


def publish_to_user(*, user_id: int, envelope: dict) -> int:
    """Sends one envelope to every live session of a user; returns how many sessions."""
    rooms = selectors.live_session_rooms(user_ids=[user_id]).get(user_id, [])
    publisher.emit_to_rooms(rooms=rooms, payload=envelope)
    return len(rooms)


def end_session(*, session_key: str) -> None:
    """Enqueues the closing of a session's sockets (logout, revocation); only its digest travels."""
    # Without the queue the session still ends (its row is gone, so nothing is published to it); its
    # open sockets then stay idle until the session's expiry closes them.
    _enqueue_on_commit(worker_tasks().drop_sessions, [wire.session_digest(session_key)])
    # The browser that logged out gets no more web pushes for this user (a shared computer).
    push_subscriptions.remove_for_session(session_digest=wire.session_digest(session_key))


def revoke_session(*, user, session_digest: str) -> bool:
    """Ends one of the user's sessions, named by digest (keys never reach the page)."""
    for key in Session.objects.filter(user=user).values_list("session_key", flat=True):
        if wire.session_digest(key) == session_digest:
            _end_sessions(user=user, session_keys=[key])
            logger.info("session revoked user_id=%s session=%s", user.pk, session_digest)
            return True
    return False


def revoke_other_sessions(*, user, current_session_key: str) -> int:
    keys = list(
        Session.objects.filter(user=user).exclude(session_key=current_session_key).values_list("session_key", flat=True)
    )
    _end_sessions(user=user, session_keys=keys)
    logger.info("other sessions revoked user_id=%s count=%s", user.pk, len(keys))
    return len(keys)


def end_all_sessions(*, user) -> int:
    """After a password change: every session ends (Django then gives the changer a new one)."""
    keys = list(Session.objects.filter(user=user).values_list("session_key", flat=True))
    _end_sessions(user=user, session_keys=keys)
    logger.info("all sessions ended user_id=%s count=%s", user.pk, len(keys))
    return len(keys)


def _end_sessions(*, user, session_keys: list[str]) -> None:
    Session.objects.filter(user=user, session_key__in=session_keys).delete()
    for key in session_keys:
        end_session(session_key=key)


def drop_sessions(*, session_digests: list[str]) -> None:
    publisher.drop_rooms(rooms=[wire.session_room(digest) for digest in session_digests])

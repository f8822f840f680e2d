"""Recording a send: one Event row, whatever the audience, and its fan-out queued after commit.

Views, the Python API (producers.notify) and management commands call these. A request only records and
enqueues: the fan-out itself runs in workers (herald_live/delivery/).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from functools import partial

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from redis import ConnectionError as RedisConnectionError

from herald_live import notification_types
from herald_live.delivery import routing
from herald_live.infra import bulk_insert, health
from herald_live.models import Event
from herald_live.selectors import users

logger = logging.getLogger(__name__)


class BrokerUnavailable(RedisConnectionError):
    """The message queue does not answer: nothing was recorded."""


class InvalidNotification(ValueError):
    """The arguments cannot make a notification; the message says which and why."""


class UnknownRecipients(InvalidNotification):
    """Listed recipient ids of no active user, every one of them in ``user_ids``: nothing was recorded.

    Refused whole rather than sent to fewer people than the sender named (the fan-out skips such ids in silence).
    """

    def __init__(self, user_ids: list[int]) -> None:
        self.user_ids = user_ids
        shown = ", ".join(map(str, user_ids[:20])) + (f" and {len(user_ids) - 20} more" if len(user_ids) > 20 else "")
        super().__init__(f"No active user has the recipient ids {shown}; nothing was sent. Remove them and send again.")


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
    refuse_unknown_ids: bool = False,
) -> tuple[Event, bool]:
    """Records one event (one row, whatever the audience) and enqueues its fan-out on commit.

    Returns (event, created): with an idempotency key already used, the earlier event and
    False, and nothing is enqueued again. With ``refuse_unknown_ids`` (ids a caller typed, as the HTTP API
    takes them), ids of no active user raise UnknownRecipients and nothing is recorded (one query, however many
    ids); users and querysets of users are the site's own, and the fan-out skips the inactive ones. A dead
    broker is found before anything is written
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
    if refuse_unknown_ids and recipient_ids:
        known = users.active_user_ids(user_ids=recipient_ids)
        unknown = [pk for pk in dict.fromkeys(recipient_ids) if pk not in known]
        if unknown:
            raise UnknownRecipients(unknown)
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
        transaction.on_commit(partial(routing.enqueue_fan_out, event=event))
    except IntegrityError:
        # Two producers raced with the same key: the other one won.
        if idempotency_key and (existing := Event.objects.filter(idempotency_key=idempotency_key).first()):
            return existing, False
        raise
    logger.info(
        "event recorded event_id=%s audience=%s actor_id=%s", event.pk, event.audience, actor.pk if actor else None
    )
    return event, True

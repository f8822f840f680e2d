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

logger = logging.getLogger(__name__)


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

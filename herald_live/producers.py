"""The Python API for background jobs: ``notify()`` returns an event id at once.

    from herald_live.producers import EVERYONE, notify, event_status

    event_id = notify(recipients=EVERYONE, verb="The new release is out", level="success",
                      idempotency_key="release-2026-11")
    event_status(event_id)  # {"status": "fanning_out", "rows_persisted": 41000, ...}

``recipients`` is a user, an iterable of users or user ids, a queryset of users, or
EVERYONE (every active user). The fan-out runs in workers; notify() never waits for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet
from notifications.base.models import AbstractNotification

from herald_live import notification_types
from herald_live.actions import sending

# Refusals of a send, defined where a send is recorded; producers' callers catch them from here.
from herald_live.actions.sending import InvalidNotification as InvalidNotification
from herald_live.actions.sending import UnknownRecipients as UnknownRecipients
from herald_live.conf import MESSAGE_MAX_LENGTH
from herald_live.models import Event
from herald_live.selectors import events

LEVELS = tuple(level for level, _ in AbstractNotification.LEVELS.choices)
MAX_DATA_BYTES = 16 * 1024


class _Everyone:
    def __repr__(self) -> str:
        return "EVERYONE"


EVERYONE = _Everyone()


def notify(
    *,
    recipients: Any,
    verb: str,
    actor: Model | None = None,
    target: Model | None = None,
    level: str = "info",
    data: dict | None = None,
    idempotency_key: str | None = None,
    notification_type: str = notification_types.DEFAULT,
) -> int:
    """Records one event for the recipients and returns its id; the fan-out happens in workers.

    The same ``idempotency_key`` always gives the same event, and no duplicates. ``notification_type``
    is a registered type (herald_live.notification_types): what recipients' preferences are chosen by.
    Raises InvalidNotification for bad arguments, BrokerUnavailable (herald_live.BrokerUnavailable) when the
    queue is down (then nothing was recorded).
    """
    event, _created = record(
        recipients=recipients,
        verb=verb,
        actor=actor,
        target=target,
        level=level,
        data=data,
        idempotency_key=idempotency_key,
        notification_type=notification_type,
    )
    return event.pk


def record(
    *,
    recipients: Any,
    verb: str,
    actor: Model | None = None,
    target: Model | None = None,
    level: str = "info",
    data: dict | None = None,
    idempotency_key: str | None = None,
    service_token: Any = None,
    idempotency_fingerprint: str = "",
    notification_type: str = notification_types.DEFAULT,
) -> tuple[Event, bool]:
    """``notify``'s checks and recording, returning the event and whether this call created it.

    The HTTP API's token and body fingerprint go into the event's one INSERT (actions.sending.record_event).
    """
    verb = clean_verb(verb)
    if level not in LEVELS:
        raise InvalidNotification(f"level must be one of {', '.join(LEVELS)}")
    check_data(data)
    check_type(notification_type)
    if idempotency_key is not None:
        if not isinstance(idempotency_key, str) or not (0 < len(idempotency_key) <= 255):
            raise InvalidNotification("idempotency_key must be 1 to 255 characters")
        check_text(idempotency_key, name="idempotency_key")
    return sending.record_event(
        actor=actor,
        verb=verb,
        level=level,
        target=target,
        data=data,
        idempotency_key=idempotency_key,
        service_token=service_token,
        idempotency_fingerprint=idempotency_fingerprint,
        notification_type=notification_type,
        **_audience(recipients),
    )


def event_status(event_id: int) -> dict[str, Any]:
    return events.event_status(event_id=event_id)


def check_text(text: str, *, name: str) -> None:
    """Refuses text that not every database Herald supports can store; every door that writes user text calls it.

    PostgreSQL refuses NUL in text and in JSON (SQLite takes it), and a lone surrogate (a JSON
    ``"\\ud800"``) is no Unicode at all: it cannot be encoded for the database, Redis or a browser.
    Refused here, the sender gets a clear 400 on every database instead of a 500 or a 503 to retry.
    """
    if "\x00" in text:
        raise InvalidNotification(f"{name} must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidNotification(f"{name} must not contain lone surrogates (it is not valid Unicode)") from None


def check_type(notification_type: Any) -> None:
    """A registered notification type, or InvalidNotification saying what is registered."""
    if not isinstance(notification_type, str):
        raise InvalidNotification("notification_type must be a string naming a registered type")
    try:
        notification_types.get(notification_type)
    except notification_types.UnknownNotificationType as exc:
        raise InvalidNotification(str(exc)) from None


def clean_verb(verb: Any) -> str:
    text = verb.strip() if isinstance(verb, str) else ""
    if not text:
        raise InvalidNotification("verb must be a non-empty string")
    if len(text) > MESSAGE_MAX_LENGTH:
        raise InvalidNotification(f"verb must be at most {MESSAGE_MAX_LENGTH} characters")
    check_text(text, name="verb")
    return text


def check_data(data: Any) -> None:
    if data is None:
        return
    if not isinstance(data, dict):
        raise InvalidNotification("data must be a JSON object (a dict)")
    try:
        # allow_nan=False: NaN and Infinity are no JSON, and PostgreSQL's jsonb refuses them.
        size = len(json.dumps(data, allow_nan=False).encode())
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidNotification(f"data must be JSON-serialisable: {exc}") from None
    if size > MAX_DATA_BYTES:
        raise InvalidNotification(f"data must be at most {MAX_DATA_BYTES} bytes as JSON")
    # Every key and string value, without recursion: nesting is bounded by the size only.
    pending: list[Any] = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(key, str):
                    check_text(key, name="data keys")
                pending.append(value)
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(item, str):
            check_text(item, name="data values")


def _audience(recipients: Any) -> dict[str, Any]:
    """The event's audience fields. Ids the caller typed (ints, not users or a queryset) are checked by
    ``record_event``: each must be an active user's, or nothing is sent."""
    User = get_user_model()
    listed_ids = False
    if recipients is EVERYONE:
        return {"audience": Event.Audience.EVERYONE}
    if isinstance(recipients, User):
        return {"audience": Event.Audience.USER, "recipient": recipients}
    if isinstance(recipients, QuerySet):
        if recipients.model is not User:
            raise InvalidNotification("a queryset of recipients must be of users")
        ids = list(recipients.order_by("pk").values_list("pk", flat=True))
    elif isinstance(recipients, Iterable) and not isinstance(recipients, str | bytes | dict):
        ids = []
        for item in recipients:
            if isinstance(item, User):
                ids.append(item.pk)
            elif isinstance(item, int) and not isinstance(item, bool):
                ids.append(item)
                listed_ids = True
            else:
                raise InvalidNotification(f"recipients must be users or user ids, not {type(item).__name__}")
    else:
        raise InvalidNotification("recipients must be a user, users or user ids, a queryset of users, or EVERYONE")
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise InvalidNotification("recipients is empty")
    return {"audience": Event.Audience.USERS, "recipient_ids": ids, "refuse_unknown_ids": listed_ids}

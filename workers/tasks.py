"""Thin task wrappers: each one calls a service function and nothing more."""

from __future__ import annotations

from django.conf import settings

from web.notices import fanout, services
from workers.celery_app import app


@app.task(name="herald.fan_out")
def fan_out(event_id: int) -> None:
    fanout.fan_out_event(event_id=event_id)


@app.task(name="herald.fan_out_chunk")
def fan_out_chunk(event_id: int, index: int) -> None:
    fanout.fan_out_chunk(event_id=event_id, index=index)


@app.task(name="herald.publish_to_user")
def publish_to_user(user_id: int, envelope: dict) -> None:
    services.publish_to_user(user_id=user_id, envelope=envelope)


@app.task(name="herald.drop_sessions")
def drop_sessions(session_digests: list[str]) -> None:
    services.drop_sessions(session_digests=session_digests)


@app.task(name="herald.redrive")
def redrive() -> None:
    services.redrive_stalled_events(older_than_seconds=settings.HERALD_REDRIVE_AFTER_SECONDS)

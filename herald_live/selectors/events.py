"""What became of a send: an event's progress."""

from __future__ import annotations

from typing import Any

from herald_live.models import Event, EventChunk


def event_status(*, event_id: int) -> dict[str, Any]:
    """An event's progress, as the Python API, the HTTP API and the command report it.

    Raises Event.DoesNotExist for an unknown id.
    """
    event = Event.objects.get(pk=event_id)
    return {
        "id": event.pk,
        "status": event.status,
        "audience": event.audience,
        "chunks_total": event.chunks_total,
        "chunks_done": EventChunk.objects.filter(event=event).count(),
        "recipients": event.recipients_count,
        "rows_persisted": event.rows_persisted,
        "sessions_published": event.sessions_published,
        "created_at": event.created_at.isoformat(),
        "completed_at": event.completed_at.isoformat() if event.completed_at else None,
    }

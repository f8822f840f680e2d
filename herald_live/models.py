from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from notifications.base.models import AbstractNotification


class Event(models.Model):
    """One send, recorded durably before any fan-out: the DB is the backlog.

    The notifications it produces point back at it through their generic ``action_object``,
    one row per recipient (unique, see migration 0003).
    """

    class Audience(models.TextChoices):
        USER = "user", "one user"
        USERS = "users", "a list of users"
        EVERYONE = "everyone", "everyone"

    class Status(models.TextChoices):
        QUEUED = "queued"
        FANNING_OUT = "fanning_out", "fanning out"
        DONE = "done"
        FAILED = "failed"

    # Empty for system sends (background jobs, the API): the notifications then name Herald.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    audience = models.CharField(max_length=16, choices=Audience.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Audience "users": the ids, taken when the event was recorded.
    recipient_ids = models.JSONField(null=True, blank=True)
    verb = models.CharField(max_length=255)
    level = models.CharField(
        max_length=20, choices=AbstractNotification.LEVELS.choices, default=AbstractNotification.LEVELS.info
    )
    # What the notifications are about (optional), and free-form data they carry.
    target_content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    target_object_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - as Notification's
    target = GenericForeignKey("target_content_type", "target_object_id")
    data = models.JSONField(null=True, blank=True)
    # The same key gives the same event: a producer may retry a send safely.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, unique=True)
    # HTTP API sends: a SHA-256 of the request's canonical JSON, so that the key reused with
    # another body is refused (422) rather than answered with this event. Empty elsewhere.
    idempotency_fingerprint = models.CharField(max_length=64, blank=True, default="")
    # HTTP API sends: the token that sent it, the only one that may read its status.
    service_token = models.ForeignKey(
        "herald_live.ServiceToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    # The fan-out plan: one entry per chunk ([first pk, last pk] for everyone, [start, end) of recipient_ids).
    plan = models.JSONField(null=True, blank=True)
    chunks_total = models.PositiveIntegerField(default=0)
    recipients_count = models.PositiveIntegerField(default=0)
    rows_persisted = models.PositiveIntegerField(default=0)
    sessions_published = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # Touched by every chunk of a fan-out: the re-drive leaves an event alone while it moves.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [("send_to_everyone", "Can send a notification to every user")]
        constraints = [
            models.CheckConstraint(
                name="event_recipient_matches_audience",
                condition=models.Q(audience="user", recipient__isnull=False)
                | models.Q(audience="everyone", recipient__isnull=True)
                | models.Q(audience="users", recipient__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"event {self.pk} ({self.audience}, {self.status})"


class EventChunk(models.Model):
    """A chunk of an event's fan-out that committed: its counts, recorded once.

    Written in the chunk's own transaction, so a re-run (redelivery, re-drive) of a chunk
    that already committed neither inserts nor counts anything twice.
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    recipients = models.PositiveIntegerField()
    rows = models.PositiveIntegerField()
    sessions = models.PositiveIntegerField()
    done_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "index"], name="event_chunk_once")]

    def __str__(self) -> str:
        return f"chunk {self.index} of event {self.event_id}"


class ServiceToken(models.Model):
    """A bearer token for the HTTP API, for other services. Only its SHA-256 is stored."""

    name = models.CharField(max_length=100, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Whether the token may send to every active user (herald_live.permissions); off unless asked for.
    can_send_to_everyone = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"service token {self.name}{' (revoked)' if self.revoked_at else ''}"

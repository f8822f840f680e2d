from __future__ import annotations

from django.conf import settings
from django.db import models
from notifications.models import Notification


class Event(models.Model):
    """One send, recorded durably before any fan-out: the DB is the backlog.

    The notifications it produces point back at it through their generic ``target``, one
    row per recipient.
    """

    class Audience(models.TextChoices):
        USER = "user", "one user"
        EVERYONE = "everyone", "everyone"

    class Status(models.TextChoices):
        QUEUED = "queued"
        FANNING_OUT = "fanning_out", "fanning out"
        DONE = "done"
        FAILED = "failed"

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    audience = models.CharField(max_length=16, choices=Audience.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    verb = models.CharField(max_length=255)
    level = models.CharField(max_length=20, choices=Notification.LEVELS.choices, default=Notification.LEVELS.info)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    recipients_count = models.PositiveIntegerField(default=0)
    rows_persisted = models.PositiveIntegerField(default=0)
    sessions_published = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # Touched by every chunk of a fan-out: the re-drive leaves an event alone while it moves.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="event_recipient_matches_audience",
                condition=models.Q(audience="user", recipient__isnull=False)
                | models.Q(audience="everyone", recipient__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"event {self.pk} ({self.audience}, {self.status})"

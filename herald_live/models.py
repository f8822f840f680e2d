from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
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
    # A registered notification type (herald_live/notification_types.py): what preferences are chosen by.
    notification_type = models.CharField(max_length=100, default="herald.message")
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


class Channel(models.TextChoices):
    """Where a notification can reach a user."""

    # Labels as the preferences page shows them (translated there).
    IN_APP = "in_app", _("in the site")
    PUSH = "push", _("web push")
    EMAIL = "email", _("email")


class ChannelPreference(models.Model):
    """A user's choice for one notification type on one channel; absent: the type's default."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    notification_type = models.CharField(max_length=100)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    enabled = models.BooleanField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "notification_type", "channel"], name="channel_preference_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.notification_type}/{self.channel}={'on' if self.enabled else 'off'}"


class Mute(models.Model):
    """A user silenced everything about one object (a thread, a target) until ``until``, or for ever."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    target_content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    target_object_id = models.CharField(max_length=255)
    target = GenericForeignKey("target_content_type", "target_object_id")
    until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "target_content_type", "target_object_id"], name="mute_once")
        ]
        indexes = [models.Index(fields=["target_content_type", "target_object_id"], name="mute_target")]

    def __str__(self) -> str:
        return f"{self.user_id} mutes {self.target_content_type_id}:{self.target_object_id}"


class DeliverySettings(models.Model):
    """Per-user settings that are not per type; absent: the defaults."""

    class EmailDigest(models.TextChoices):
        OFF = "off", _("never")
        TEN_MINUTES = "10min", _("after 10 minutes")
        HOURLY = "hourly", _("hourly")
        DAILY = "daily", _("daily digest")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    email_digest = models.CharField(max_length=16, choices=EmailDigest.choices, default=EmailDigest.OFF)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"delivery settings of {self.user_id}"


class PushSubscription(models.Model):
    """One browser's Web Push subscription (one per device): where a push for its user is sent."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The push service's URL for this browser: unique, a browser re-subscribing replaces its row.
    endpoint = models.URLField(max_length=1000, unique=True)
    # The browser's P-256 public key and auth secret (urlsafe base64), which the payload is encrypted to.
    p256dh = models.CharField(max_length=128)
    auth = models.CharField(max_length=64)
    user_agent = models.CharField(max_length=300, blank=True, default="")
    # The session it was made from, by digest (herald_live.wire.session_digest), never the key: ending that
    # session (logout, revocation) removes it, so that a shared browser stops getting its previous user's pushes.
    session_digest = models.CharField(max_length=40, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"push subscription {self.pk} of {self.user_id}"


class EmailDigest(models.Model):
    """One digest email of a user's unread notifications, recorded (claimed) before it is sent.

    The claim marks its notifications ``emailed`` in the same transaction, so a later run (another
    worker, a restart) finds them claimed and never mails them again; the unique (user, last id)
    refuses a second claim of the same batch outright. A claim is never retried, unless the SMTP
    server refused it with a temporary error (docs/channels.md, "Email").
    """

    class Status(models.TextChoices):
        # Recorded; being sent, or its worker died before the server answered: never sent again.
        CLAIMED = "claimed"
        SENT = "sent"
        # Everything it claimed was read (or deleted) before the send: no email.
        EMPTY = "empty"
        # The server refused it for good, or the connection broke mid-send: not tried again.
        FAILED = "failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The newest notification it claimed, and how many it claimed.
    up_to_notification_id = models.BigIntegerField()
    notification_count = models.PositiveIntegerField()
    # How many it listed as still unread when it was sent.
    sent_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CLAIMED)
    # The run's time, not auto_now_add: the spacing between digests is measured with it.
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "up_to_notification_id"], name="email_digest_once"),
        ]
        indexes = [models.Index(fields=["user", "created_at"], name="email_digest_user_created")]

    def __str__(self) -> str:
        return f"email digest {self.pk} of {self.user_id} ({self.status})"

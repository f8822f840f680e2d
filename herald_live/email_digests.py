"""Email digests: one email per user listing what stayed unread (docs/channels.md, "Email").

A run (the ``herald.send_email_digests`` task every minute, or ``manage.py send_email_digests``)
finds, a batch of users at a time and in a fixed number of queries per batch, the users whose
digest is due: their ``DeliverySettings.email_digest`` is on, and they have unread notifications,
not deleted, not emailed yet, of types with email on for them, the oldest of which has waited
long enough (``window``). For each of them, in turn:

1. the claim, one transaction: the user's settings row locked, due-ness checked again, an
   ``EmailDigest`` recorded and its notifications marked ``emailed``. Whatever happens next, no
   later run mails them again;
2. what is still unread of them is read again (read meanwhile: left out; none left: no email);
3. the email goes out; the server's acceptance marks the digest sent.

So an email is sent at most once: a worker that dies between 1 and 3 leaves a claimed digest
that is never retried (the server may have taken it). The one exception is a digest the SMTP
server refused with a temporary (4xx) reply: it was provably not accepted, so its claim is
undone and the next run tries again. A run that cannot reach the server claims nothing.
"""

from __future__ import annotations

import logging
import smtplib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import BigIntegerField, Case, CharField, Count, F, Max, Min, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Cast, Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from notifications.swappable import load_notification_model as notification_model

from herald_live import notification_types, preferences, selectors
from herald_live.conf import app_settings
from herald_live.metrics import EMAIL_DIGESTS
from herald_live.models import Channel, DeliverySettings, EmailDigest, Event
from herald_live.templatetags.herald import safe_target_url

logger = logging.getLogger(__name__)

Setting = DeliverySettings.EmailDigest
# Every digest waits this long after the oldest notification it lists: what is read by then is never mailed.
GRACE = timedelta(minutes=10)
# At most one "hourly" digest an hour.
HOURLY_SPACING = timedelta(hours=1)
# Digests that count as the user's last email: sent, or claimed by a worker that may have sent it.
COUNTED = (EmailDigest.Status.CLAIMED, EmailDigest.Status.SENT)
UNSUBSCRIBE_SALT = "herald.email.unsubscribe"
# Ids per IN list: well under every database's limit on parameters.
ID_CHUNK = 500


class EmailNotConfigured(RuntimeError):
    """HERALD_SITE_URL is not set: the emails would have no link to the site."""


# ---- when a digest is due ------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A digest is due when its oldest notification is at or before ``rows_before`` and the user's
    last digest (claimed or sent) is before ``last_before``."""

    rows_before: datetime
    last_before: datetime


def daily_slot(*, now: datetime) -> datetime:
    """The latest HERALD_EMAIL_DIGEST_HOUR:00 UTC at or before ``now``."""
    slot = now.astimezone(UTC).replace(hour=app_settings.EMAIL_DIGEST_HOUR, minute=0, second=0, microsecond=0)
    return slot if slot <= now else slot - timedelta(days=1)


def window(*, setting: str, now: datetime) -> Window:
    """10 min: 10 minutes after the oldest unread one (so at most one email per 10 minutes). Hourly: the
    same, and at most one an hour. Daily: at the day's hour, for what arrived before it."""
    if setting == Setting.TEN_MINUTES:
        return Window(rows_before=now - GRACE, last_before=now - GRACE)
    if setting == Setting.HOURLY:
        return Window(rows_before=now - GRACE, last_before=now - HOURLY_SPACING)
    if setting == Setting.DAILY:
        slot = daily_slot(now=now)
        return Window(rows_before=slot, last_before=slot)
    raise ValueError(f"no digest window for {setting!r}")


ON = [value for value in Setting.values if value != Setting.OFF]


# ---- what a digest may list ------------------------------------------------------------------------


def _pending(*, now: datetime):
    """Notifications no digest claimed yet, unread, not deleted, younger than HERALD_EMAIL_DIGEST_MAX_AGE_SECONDS."""
    oldest = now - timedelta(seconds=app_settings.EMAIL_DIGEST_MAX_AGE_SECONDS)
    return notification_model().objects.filter(unread=True, deleted=False, emailed=False, timestamp__gte=oldest)


def _type_of_row():
    """A notification's type: its event's (its action object); the default for rows from elsewhere.

    A subquery on the event's primary key, in the same query. The cast runs only on rows whose action
    object is an event (a CASE branch), whose object id is always the event's number.
    """
    event_type = Event.objects.filter(pk=Cast(OuterRef("action_object_object_id"), BigIntegerField())).values(
        "notification_type"
    )[:1]
    return Coalesce(
        Case(
            When(action_object_content_type=ContentType.objects.get_for_model(Event), then=Subquery(event_type)),
            default=Value(notification_types.DEFAULT),
            output_field=CharField(),
        ),
        Value(notification_types.DEFAULT),
    )


@dataclass(frozen=True)
class DueDigest:
    """A user whose digest is due, as the selection saw them."""

    user_id: int
    email: str
    setting: str
    # The types of their pending notifications that have email on for them.
    types: frozenset[str]
    pending: int
    oldest: datetime


def due_digests(*, now: datetime) -> Iterator[list[DueDigest]]:
    """The users whose digest is due at ``now``, by batches of at most HERALD_EMAIL_DIGEST_BATCH_SIZE.

    Each batch costs the same few queries whatever its size (and one per notification type, for the
    users' choices): never one per user.
    """
    size = app_settings.EMAIL_DIGEST_BATCH_SIZE
    # The most lenient window of all settings: users not due by it are not due at all.
    loosest = max(window(setting=setting, now=now).rows_before for setting in ON)
    digest_on = DeliverySettings.objects.filter(email_digest__in=ON).values("user_id")
    candidates = (
        _pending(now=now)
        .filter(recipient_id__in=digest_on)
        .values("recipient_id")
        .annotate(oldest=Min("timestamp"))
        .filter(oldest__lte=loosest)
        .order_by("recipient_id")
    )
    after = 0
    while True:
        page = [row["recipient_id"] for row in candidates.filter(recipient_id__gt=after)[:size]]
        if not page:
            return
        due = _due_among(user_ids=page, now=now)
        if due:
            yield due
        if len(page) < size:
            return
        after = page[-1]


@dataclass
class _Pending:
    types: set[str] = field(default_factory=set)
    count: int = 0
    oldest: datetime | None = None


def _due_among(*, user_ids: Sequence[int], now: datetime) -> list[DueDigest]:
    email_field = get_user_model().get_email_field_name()
    users = {
        row["user_id"]: row
        for row in DeliverySettings.objects.filter(user_id__in=user_ids, email_digest__in=ON, user__is_active=True)
        .exclude(Q(**{f"user__{email_field}": ""}) | Q(**{f"user__{email_field}__isnull": True}))
        .values("user_id", "email_digest", email=F(f"user__{email_field}"))
    }
    if not users:
        return []
    last_digest = dict(
        EmailDigest.objects.filter(user_id__in=users, status__in=COUNTED)
        .values("user_id")
        .annotate(last=Max("created_at"))
        .values_list("user_id", "last")
    )
    by_type: dict[str, dict[int, tuple[datetime, int]]] = defaultdict(dict)
    grouped = (
        _pending(now=now)
        .filter(recipient_id__in=users)
        .annotate(kind=_type_of_row())
        .values("recipient_id", "kind")
        .annotate(oldest=Min("timestamp"), rows=Count("id"))
        .order_by()
    )
    for row in grouped:
        by_type[row["kind"]][row["recipient_id"]] = (row["oldest"], row["rows"])
    pending: dict[int, _Pending] = defaultdict(_Pending)
    for kind, per_user in by_type.items():
        for user_id in preferences.enabled_users(notification_type=kind, channel=Channel.EMAIL, user_ids=per_user):
            oldest, rows = per_user[user_id]
            seen = pending[user_id]
            seen.types.add(kind)
            seen.count += rows
            seen.oldest = oldest if seen.oldest is None else min(seen.oldest, oldest)
    due = []
    for user_id in sorted(pending):
        seen, user = pending[user_id], users[user_id]
        bounds = window(setting=user["email_digest"], now=now)
        last = last_digest.get(user_id)
        if seen.oldest <= bounds.rows_before and (last is None or last < bounds.last_before):
            due.append(
                DueDigest(
                    user_id=user_id,
                    email=user["email"],
                    setting=user["email_digest"],
                    types=frozenset(seen.types),
                    pending=seen.count,
                    oldest=seen.oldest,
                )
            )
    return due


# ---- claim, send, record -----------------------------------------------------------------------------


class _Taken(Exception):
    """Another run claimed some of these notifications first."""


@dataclass(frozen=True)
class Claim:
    digest: EmailDigest
    email: str
    notification_ids: list[int]


def claim(*, due: DueDigest, now: datetime) -> Claim | None:
    """Records the digest and marks its notifications emailed, in one transaction; None if it is not due
    any more (read meanwhile, turned off, or another run claimed it)."""
    Notification = notification_model()
    try:
        with transaction.atomic():
            # One claim per user at a time (PostgreSQL; SQLite's transactions take the write lock up front).
            setting = (
                DeliverySettings.objects.select_for_update()
                .filter(user_id=due.user_id)
                .values_list("email_digest", flat=True)
                .first()
            )
            if setting not in ON:
                return None
            bounds = window(setting=setting, now=now)
            if EmailDigest.objects.filter(
                user_id=due.user_id, status__in=COUNTED, created_at__gte=bounds.last_before
            ).exists():
                return None
            rows = list(
                _pending(now=now)
                .filter(recipient_id=due.user_id)
                .annotate(kind=_type_of_row())
                .filter(kind__in=due.types)
                .values_list("id", "timestamp")
            )
            if not rows or min(timestamp for _, timestamp in rows) > bounds.rows_before:
                return None
            ids = sorted(pk for pk, _ in rows)
            digest = EmailDigest.objects.create(
                user_id=due.user_id, up_to_notification_id=ids[-1], notification_count=len(ids), created_at=now
            )
            marked = sum(
                Notification.objects.filter(pk__in=chunk, emailed=False).update(emailed=True) for chunk in _chunks(ids)
            )
            if marked != len(ids):
                raise _Taken
    except (IntegrityError, _Taken):
        # A run beside this one claimed this batch (the unique user and last id) or some of its rows.
        return None
    return Claim(digest=digest, email=due.email, notification_ids=ids)


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start : start + ID_CHUNK]


def _release(claim: Claim) -> None:
    """Undoes a claim whose email the server provably refused, so that the next run tries again."""
    with transaction.atomic():
        EmailDigest.objects.filter(pk=claim.digest.pk).delete()
        for chunk in _chunks(claim.notification_ids):
            notification_model().objects.filter(pk__in=chunk).update(emailed=False)


def _finish(claim: Claim, *, status: str, sent: int = 0, error: str = "") -> None:
    EmailDigest.objects.filter(pk=claim.digest.pk).update(
        status=status,
        sent_count=sent,
        sent_at=timezone.now() if status == EmailDigest.Status.SENT else None,
        error=error[:255],
    )


def still_unread(*, user_id: int, notification_ids: Sequence[int]) -> list[int]:
    """Those of the ids still unread and not deleted, newest first."""
    rows = notification_model().objects.filter(recipient_id=user_id, unread=True, deleted=False)
    ids: list[int] = []
    for chunk in _chunks(notification_ids):
        ids += rows.filter(pk__in=chunk).values_list("pk", flat=True)
    return sorted(ids, reverse=True)


# ---- the email -------------------------------------------------------------------------------------


def site_configured() -> bool:
    return bool(app_settings.SITE_URL)


def site_url() -> str:
    url = (app_settings.SITE_URL or "").rstrip("/")
    if not url:
        raise EmailNotConfigured("HERALD_SITE_URL is not set: digest emails need a link to the site")
    return url


def settings_problems() -> list[str]:
    """What is wrong with the digests' settings (system check herald_live.E020); empty when nothing is."""
    problems = []
    url = app_settings.SITE_URL
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        problems.append(f"HERALD_SITE_URL must be the site's absolute http(s) URL (https://example.com), not {url!r}")
    hour = app_settings.EMAIL_DIGEST_HOUR
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
        problems.append(f"HERALD_EMAIL_DIGEST_HOUR must be an hour from 0 to 23 (UTC), not {hour!r}")
    for name in ("EMAIL_DIGEST_MAX_ITEMS", "EMAIL_DIGEST_BATCH_SIZE", "EMAIL_DIGEST_MAX_AGE_SECONDS"):
        value = getattr(app_settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"HERALD_{name} must be a whole number of at least 1, not {value!r}")
    return problems


def unsubscribe_token(*, user_id: int) -> str:
    """Signed with the site's SECRET_KEY and a salt of its own: it names the user and proves the link came from us."""
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"u": user_id})


def unsubscribe_user_id(*, token: str) -> int:
    """The user an unsubscribe token names; signing.BadSignature for anything else."""
    data = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign_object(token)
    user_id = data.get("u") if isinstance(data, dict) else None
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise signing.BadSignature("the token names no user")
    return user_id


def unsubscribe_url(*, user_id: int) -> str:
    return site_url() + reverse("herald:email_unsubscribe", args=[unsubscribe_token(user_id=user_id)])


def unsubscribe(*, user_id: int) -> bool:
    """Turns the user's digests off (what the one-click link does); False if there is no such user."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return False
    preferences.update(user=user, choices={}, email_digest=Setting.OFF)
    logger.info("email digests turned off by the unsubscribe link user_id=%s", user_id)
    return True


def _absolute(url: str | None) -> str | None:
    """A target's link as an email needs it: absolute, http(s) only."""
    url = safe_target_url(url)
    if url is None:
        return None
    if urlsplit(url).scheme:
        return url
    return site_url() + url if url.startswith("/") else None


def _items(notification_ids: Sequence[int]) -> list[dict]:
    rows = notification_model().objects.filter(pk__in=notification_ids).prefetch_related("actor", "target")
    items = []
    for n in sorted(rows, key=lambda row: row.pk, reverse=True):
        target = selectors.target_summary(n.target) if n.target_object_id else None
        items.append(
            {
                "actor": selectors.actor_name(n.actor),
                "verb": n.verb,
                "description": n.description or "",
                "target": target["text"] if target else "",
                "url": _absolute(target["url"]) if target else None,
                "timestamp": n.timestamp,
            }
        )
    return items


def digest_message(*, user_id: int, email: str, notification_ids: Sequence[int]) -> EmailMultiAlternatives:
    """The email listing these notifications (newest first, at most HERALD_EMAIL_DIGEST_MAX_ITEMS of them),
    in the site's language, with a text and an HTML part and RFC 8058 one-click unsubscribe headers."""
    listed = list(notification_ids)[: app_settings.EMAIL_DIGEST_MAX_ITEMS]
    site = site_url()
    unsubscribe_link = unsubscribe_url(user_id=user_id)
    context = {
        "notifications": _items(listed),
        "total": len(notification_ids),
        "more": len(notification_ids) - len(listed),
        "site_url": site,
        "center_url": site + reverse("herald:center"),
        "preferences_url": site + reverse("herald:preferences"),
        "unsubscribe_url": unsubscribe_link,
    }
    with translation.override(settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string("herald/email/digest_subject.txt", context).split())
        text = render_to_string("herald/email/digest.txt", context)
        html = render_to_string("herald/email/digest.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=[email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe_link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


# ---- a run ------------------------------------------------------------------------------------------


@dataclass
class RunReport:
    sent: int = 0
    # Claimed, but everything in it was read (or deleted) before the send.
    empty: int = 0
    # Refused for good, or lost with the connection mid-send: not tried again.
    failed: int = 0
    # Refused for now (4xx): the next run tries again.
    deferred: int = 0
    # The SMTP server could not be reached: these due users wait for the next run, nothing claimed.
    unreachable: bool = False


def _temporary_refusal(exc: Exception) -> bool | None:
    """True: the server refused for now (4xx); False: for good (5xx); None: no refusal we can prove."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
    elif isinstance(exc, smtplib.SMTPResponseException):
        codes = [exc.smtp_code]
    else:
        return None
    if codes and all(400 <= code < 500 for code in codes):
        return True
    if codes and all(400 <= code < 600 for code in codes):
        return False
    return None


def _ready(connection) -> bool:
    """Opens the connection, or checks that an open SMTP one still answers (servers drop idle ones)."""
    smtp = getattr(connection, "connection", None)
    if isinstance(smtp, smtplib.SMTP):
        try:
            if smtp.noop()[0] == 250:
                return True
        except (smtplib.SMTPException, OSError):
            pass
        _close(connection)
    try:
        connection.open()
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("email digests: the SMTP server cannot be reached (%s); the next run tries again", exc)
        return False
    return True


def _close(connection) -> None:
    """Closes the connection; a server that went away cannot refuse QUIT any more than it answers it."""
    try:
        connection.close()
    except (smtplib.SMTPException, OSError):
        pass


def send_due_digests(*, now: datetime) -> RunReport:
    """Sends every digest due at ``now`` (module docstring: at most once each)."""
    report = RunReport()
    if not site_configured():
        logger.warning("email digests: HERALD_SITE_URL is not set, no digest is sent")
        return report
    connection = get_connection(fail_silently=False)
    try:
        for batch in due_digests(now=now):
            for due in batch:
                # Connect before claiming: a server that is down costs nothing but a wait for the next run.
                if not _ready(connection):
                    report.unreachable = True
                    return report
                _send_one(due=due, now=now, connection=connection, report=report)
    finally:
        _close(connection)
    if report.sent or report.failed or report.deferred:
        logger.info(
            "email digests sent=%s empty=%s failed=%s deferred=%s",
            report.sent,
            report.empty,
            report.failed,
            report.deferred,
        )
    return report


def _send_one(*, due: DueDigest, now: datetime, connection, report: RunReport) -> None:
    claimed = claim(due=due, now=now)
    if claimed is not None:
        outcome = deliver(claimed=claimed, connection=connection)
        setattr(report, outcome, getattr(report, outcome) + 1)
        EMAIL_DIGESTS.labels(outcome=outcome).inc()


def deliver(*, claimed: Claim, connection) -> str:
    """Sends a claimed digest, listing what is still unread of it; records and returns the outcome:
    "sent", "empty" (all read meanwhile: no email), "failed" (not tried again) or "deferred" (released)."""
    user_id = claimed.digest.user_id
    unread = still_unread(user_id=user_id, notification_ids=claimed.notification_ids)
    if not unread:
        _finish(claimed, status=EmailDigest.Status.EMPTY)
        return "empty"
    try:
        message = digest_message(user_id=user_id, email=claimed.email, notification_ids=unread)
    except Exception:
        # Nothing reached the server: the claim is undone, and the error (a template's, a setting's) stops the run.
        _release(claimed)
        raise
    try:
        accepted = connection.send_messages([message])
    except Exception as exc:  # noqa: BLE001 - any backend's error: the digest's fate is recorded, the run goes on
        temporary = _temporary_refusal(exc)
        # After an error the connection's state is unknown: the next user gets a fresh one.
        _close(connection)
        if temporary:
            _release(claimed)
            logger.warning("email digest deferred user_id=%s: the server refused it for now (%s)", user_id, exc)
            return "deferred"
        _finish(claimed, status=EmailDigest.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        logger.warning(
            "email digest failed user_id=%s digest_id=%s (%s: %s); not tried again",
            user_id,
            claimed.digest.pk,
            type(exc).__name__,
            exc,
        )
        return "failed"
    if not accepted:
        _finish(claimed, status=EmailDigest.Status.FAILED, error="the email backend sent nothing")
        return "failed"
    _finish(claimed, status=EmailDigest.Status.SENT, sent=len(unread))
    logger.info("email digest sent user_id=%s digest_id=%s notifications=%s", user_id, claimed.digest.pk, len(unread))
    return "sent"

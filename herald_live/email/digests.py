"""A run of the email digests: each due user's email, sent at most once (docs/channels.md, "Email").

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
from dataclasses import dataclass
from datetime import datetime

from django.core.mail import get_connection

from herald_live.email import claims, site
from herald_live.email.claims import Claim
from herald_live.email.due import DueDigest, due_digests
from herald_live.email.message import digest_message
from herald_live.metrics import EMAIL_DIGESTS
from herald_live.models import EmailDigest

logger = logging.getLogger(__name__)


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
    if not site.site_configured():
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
    claimed = claims.claim(due=due, now=now)
    if claimed is not None:
        outcome = deliver(claimed=claimed, connection=connection)
        setattr(report, outcome, getattr(report, outcome) + 1)
        EMAIL_DIGESTS.labels(outcome=outcome).inc()


def deliver(*, claimed: Claim, connection) -> str:
    """Sends a claimed digest, listing what is still unread of it; records and returns the outcome:
    "sent", "empty" (all read meanwhile: no email), "failed" (not tried again) or "deferred" (released)."""
    user_id = claimed.digest.user_id
    unread = claims.still_unread(user_id=user_id, notification_ids=claimed.notification_ids)
    if not unread:
        claims.finish(claimed, status=EmailDigest.Status.EMPTY)
        return "empty"
    try:
        message = digest_message(user_id=user_id, email=claimed.email, notification_ids=unread)
    except Exception:
        # Nothing reached the server: the claim is undone, and the error (a template's, a setting's) stops the run.
        claims.release(claimed)
        raise
    try:
        accepted = connection.send_messages([message])
    except Exception as exc:  # noqa: BLE001 - any backend's error: the digest's fate is recorded, the run goes on
        temporary = _temporary_refusal(exc)
        # After an error the connection's state is unknown: the next user gets a fresh one.
        _close(connection)
        if temporary:
            claims.release(claimed)
            logger.warning("email digest deferred user_id=%s: the server refused it for now (%s)", user_id, exc)
            return "deferred"
        claims.finish(claimed, status=EmailDigest.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        logger.warning(
            "email digest failed user_id=%s digest_id=%s (%s: %s); not tried again",
            user_id,
            claimed.digest.pk,
            type(exc).__name__,
            exc,
        )
        return "failed"
    if not accepted:
        claims.finish(claimed, status=EmailDigest.Status.FAILED, error="the email backend sent nothing")
        return "failed"
    claims.finish(claimed, status=EmailDigest.Status.SENT, sent=len(unread))
    logger.info("email digest sent user_id=%s digest_id=%s notifications=%s", user_id, claimed.digest.pk, len(unread))
    return "sent"

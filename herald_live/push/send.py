"""Web push's task (``herald.send_push``): each notification, encrypted to each of its recipient's browsers,
POSTed to their push services with pywebpush.

A subscription the push service says is gone (404, 410) is deleted; deliveries that failed for a while
(network, 429, 5xx) are sent again later, alone, by a new task: the ones that succeeded are never sent
twice by a retry. At least once, best effort: docs/guarantees.md. Who gets a push is push/audience.py's.
"""

from __future__ import annotations

import json
import logging
import random
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from django.utils import timezone
from notifications.swappable import load_notification_model as notification_model

from herald_live.conf import app_settings
from herald_live.infra import jobs
from herald_live.metrics import PUSH_DELIVERIES
from herald_live.models import PushSubscription
from herald_live.push import vapid
from herald_live.selectors import notifications

logger = logging.getLogger(__name__)

# Seconds before each retry of the deliveries that failed for a while; after the last one they are dropped.
RETRY_DELAYS = (5, 30, 120, 600)
# A push service's Retry-After is followed up to this many seconds.
MAX_RETRY_AFTER = 3600
TIMEOUT_SECONDS = 10
# Deliveries of one task in flight at once: push services answer in tens of milliseconds, one by one is slow.
PARALLEL_POSTS = 8
# RFC 8030 Urgency: the browser may wake a sleeping device for high, and batch the others.
URGENCY = {"error": "high", "warning": "high"}
URL_MAX_LENGTH = 1000

OK, GONE, RETRY, FAILED = "ok", "gone", "retry", "failed"


def payload(notification) -> dict:
    """The JSON the service worker shows (herald_live/static/herald/sw.js): who (the actor, or the site's name
    for system sends), what, where a click leads; ``tag`` makes a repeat replace the notification, not add one."""
    target = notifications.target_summary(notification.target) if notification.target_object_id else None
    url = (target or {}).get("url") or app_settings.PUSH_OPEN_URL
    return {
        "title": notifications.actor_name(notification.actor),
        "body": notification.verb,
        "url": url if len(url) <= URL_MAX_LENGTH else app_settings.PUSH_OPEN_URL,
        "level": notification.level,
        "id": notification.pk,
        "tag": f"herald-{notification.pk}",
    }


@dataclass
class Report:
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    retry_pairs: list[list[int]] = field(default_factory=list)
    retry_in: float | None = None


def send(*, notification_ids: list[int], pairs: list[list[int]] | None = None, attempt: int = 0) -> Report:
    """Pushes each notification to its recipient's devices (``pairs``: only these [notification, subscription]).

    Read notifications are skipped: the user has seen them. One query for the rows (and one per content
    type of their actors and targets, for the title and link), one for the subscriptions; one update for
    the successes and one delete for the subscriptions gone.
    """
    report = Report()
    problems = vapid.problems() if vapid.configured() else ["VAPID is not configured"]
    if problems:
        logger.warning("push not sent notifications=%s: %s", len(notification_ids), "; ".join(problems))
        return report
    wanted = set(notification_ids) | {pair[0] for pair in pairs or []}
    rows = {
        row.pk: row
        for row in notification_model()
        .objects.filter(pk__in=wanted, unread=True, deleted=False)
        .prefetch_related("actor", "target")
    }
    if not rows:
        return report
    recipients = {nid: row.recipient_id for nid, row in rows.items()}
    if pairs is None:
        by_user: dict[int, list[PushSubscription]] = defaultdict(list)
        for subscription in PushSubscription.objects.filter(user_id__in=set(recipients.values())):
            by_user[subscription.user_id].append(subscription)
        deliveries = [(nid, sub) for nid, uid in sorted(recipients.items()) for sub in by_user[uid]]
    else:
        by_id = PushSubscription.objects.in_bulk({pair[1] for pair in pairs})
        # A subscription that moved to another user (another login in that browser) is not theirs any more.
        deliveries = [
            (nid, by_id[sid])
            for nid, sid in pairs
            if nid in recipients and sid in by_id and by_id[sid].user_id == recipients[nid]
        ]
    if not deliveries:
        return report
    payloads = {nid: payload(rows[nid]) for nid in {nid for nid, _ in deliveries}}
    results = _post_all([(payloads[nid], subscription) for nid, subscription in deliveries])
    succeeded, gone = [], []
    for (nid, subscription), (outcome, retry_after) in zip(deliveries, results, strict=True):
        report.outcomes[outcome] += 1
        PUSH_DELIVERIES.labels(outcome=outcome).inc()
        if outcome == OK:
            succeeded.append(subscription.pk)
        elif outcome == GONE:
            gone.append(subscription.pk)
        elif outcome == RETRY:
            report.retry_pairs.append([nid, subscription.pk])
            if retry_after is not None:
                report.retry_in = max(report.retry_in or 0, min(retry_after, MAX_RETRY_AFTER))
    if succeeded:
        PushSubscription.objects.filter(pk__in=succeeded).update(last_success_at=timezone.now())
    if gone:
        PushSubscription.objects.filter(pk__in=gone).delete()
    if report.retry_pairs:
        _retry_later(report, attempt=attempt)
    logger.info(
        "push sent notifications=%s deliveries=%s attempt=%s %s",
        len(payloads),
        len(deliveries),
        attempt,
        " ".join(f"{name}={count}" for name, count in sorted(report.outcomes.items())),
    )
    return report


def _retry_later(report: Report, *, attempt: int) -> None:
    if attempt >= len(RETRY_DELAYS):
        logger.warning("push dropped deliveries=%s after %s attempts", len(report.retry_pairs), attempt + 1)
        report.retry_in = None
        return
    delay = RETRY_DELAYS[attempt] * random.uniform(1.0, 1.25)  # jitter: retries of many tasks do not come back at once
    report.retry_in = max(delay, report.retry_in or 0)
    enqueue_send(
        notification_ids=sorted({nid for nid, _ in report.retry_pairs}),
        pairs=report.retry_pairs,
        attempt=attempt + 1,
        countdown=report.retry_in,
    )


def enqueue_send(
    *,
    notification_ids: list[int],
    pairs: list[list[int]] | None = None,
    attempt: int = 0,
    countdown: float | None = None,
) -> None:
    """Queues one herald.send_push task; ``pairs``: only these [notification, subscription] deliveries."""
    kwargs = {"pairs": pairs, "attempt": attempt} if pairs else {}
    try:
        jobs.enqueue(
            jobs.SEND_PUSH, notification_ids, kwargs=kwargs, queue=app_settings.PUSH_QUEUE, countdown=countdown
        )
    except jobs.UNAVAILABLE:
        # Push is best effort: the notification is stored and shown in the site.
        logger.warning("push not enqueued notifications=%s: the message queue does not answer", len(notification_ids))


def _post_all(deliveries: list[tuple[dict, PushSubscription]]) -> list[tuple[str, float | None]]:
    import requests
    from requests.adapters import HTTPAdapter

    signer = vapid.signer()
    with requests.Session() as session:
        adapter = HTTPAdapter(pool_connections=PARALLEL_POSTS, pool_maxsize=PARALLEL_POSTS, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        post = partial(_post, session=session, signer=signer)
        if len(deliveries) == 1:
            return [post(*deliveries[0])]
        with ThreadPoolExecutor(max_workers=min(PARALLEL_POSTS, len(deliveries))) as pool:
            return list(pool.map(lambda delivery: post(*delivery), deliveries))


def _post(data: dict, subscription: PushSubscription, *, session, signer) -> tuple[str, float | None]:
    """One encrypted POST to a push service: (outcome, the service's Retry-After in seconds, if it gave one)."""
    import requests
    from pywebpush import WebPushException, webpush

    body = json.dumps(data, separators=(",", ":"))
    try:
        response = webpush(
            subscription_info={
                "endpoint": subscription.endpoint,
                "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
            },
            data=body,
            vapid_private_key=signer,
            # A dict of its own per call: pywebpush writes the endpoint's origin ("aud") into it.
            vapid_claims={"sub": app_settings.VAPID_SUBJECT},
            ttl=app_settings.PUSH_TTL_SECONDS,
            timeout=TIMEOUT_SECONDS,
            # Topic: a push service keeps one undelivered message per topic, so a retry does not make two.
            headers={"Urgency": URGENCY.get(data["level"], "normal"), "Topic": data["tag"]},
            requests_session=session,
        )
        status, headers = response.status_code, response.headers
    except WebPushException as exc:
        if exc.response is None:
            logger.warning("push not sent subscription_id=%s: %s", subscription.pk, exc.message)
            return FAILED, None
        status, headers = exc.response.status_code, exc.response.headers
    except requests.RequestException as exc:
        logger.info("push service unreachable subscription_id=%s: %s", subscription.pk, type(exc).__name__)
        return RETRY, None
    if status < 300:
        return OK, None
    if status in (404, 410):
        return GONE, None
    if status in (408, 429) or status >= 500:
        return RETRY, _seconds(headers.get("Retry-After"))
    # 400 (malformed), 401/403 (VAPID refused: keys changed since the browser subscribed), 413 (too large).
    logger.warning("push refused subscription_id=%s status=%s", subscription.pk, status)
    return FAILED, None


def _seconds(retry_after: str | None) -> float | None:
    if retry_after and retry_after.strip().isdigit():
        return float(retry_after.strip())
    return None

"""The herald.purge task, as Celery beat enqueues it, run by a real worker process on the bulk queue."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from notifications.models import Notification

from tests.support import processes

pytestmark = pytest.mark.usefixtures("committed")


def test_a_worker_runs_the_scheduled_purge_from_the_bulk_queue(worker_process, make_user):
    from workers.celery_app import app

    user = make_user("retention-task")
    now = timezone.now()
    Notification.objects.bulk_create(
        [
            Notification(
                recipient=user,
                actor_content_type=ContentType.objects.get_for_model(user),
                actor_object_id=str(user.pk),
                verb=verb,
                unread=unread,
                timestamp=now - age,
            )
            for verb, unread, age in [
                ("old read", False, timedelta(days=91)),
                ("old unread", True, timedelta(days=91)),
                ("recent read", False, timedelta(days=1)),
            ]
        ]
    )
    (entry,) = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "herald.purge"]
    mark = len(worker_process.log())
    try:
        # What beat sends: the entry's task name and options.
        app.send_task(entry["task"], **entry["options"])

        processes.wait_until(
            lambda: re.search(r"Task herald\.purge\[[^\]]+\] succeeded", worker_process.log()[mark:]),
            timeout=30,
            what="the purge task to succeed",
        )
        left = set(Notification.objects.filter(recipient=user).values_list("verb", flat=True))
        assert left == {"old unread", "recent read"}
        assert "retention purge notifications_old=0 notifications_read=1 " in worker_process.log()[mark:]
        assert entry["options"]["queue"] == "herald.bulk"
    finally:
        user.delete()

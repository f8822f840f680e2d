"""A real Celery worker runs herald.send_email_digests taken from the broker; a real SMTP server gets the digest."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from notifications.swappable import load_notification_model

from herald_live import producers
from herald_live.models import DeliverySettings, EmailDigest
from tests.support import processes
from workers.celery_app import app

pytestmark = pytest.mark.usefixtures("committed")

SITE = "https://herald.example.test"


def test_the_worker_mails_what_stayed_unread_once_however_often_the_task_runs(system_env, smtp, make_user):
    env = {**system_env, "EMAIL_HOST": smtp.host, "EMAIL_PORT": str(smtp.port), "HERALD_SITE_URL": SITE}
    worker = processes.worker(env, name="email-worker").start()
    try:
        worker.wait_for_log("ready.")
        reader, bystander = make_user("digest"), make_user("bystander")
        for user in (reader, bystander):
            user.email = f"{user.username}@example.test"
            user.save(update_fields=["email"])
        DeliverySettings.objects.create(user=reader, email_digest=DeliverySettings.EmailDigest.TEN_MINUTES)
        # The whole pipeline: three sends, fanned out by the worker into rows.
        for verb in ("deploy started", "deploy finished", "tests <passed>"):
            producers.notify(recipients=[reader.pk, bystander.pk], verb=verb)
        rows = load_notification_model().objects.filter(recipient=reader)
        processes.wait_until(lambda: rows.count() == 3, timeout=30, what="the fan-out's rows")
        # Eleven minutes later, as far as the digest can tell.
        load_notification_model().objects.filter(recipient__in=[reader, bystander]).update(
            timestamp=timezone.now() - timedelta(minutes=11)
        )

        for _ in range(3):
            app.send_task("herald.send_email_digests", queue="herald.bulk")
        succeeded = re.compile(r"Task herald\.send_email_digests\[[^\]]+\] succeeded")
        processes.wait_until(
            lambda: len(succeeded.findall(worker.log())) == 3, timeout=30, what="three runs of the task"
        )

        (mail,) = smtp.wait_for(1, timeout=10)
        assert mail.rcpt_tos == [reader.email]
        assert mail.message["Subject"] == "You have 3 unread notifications"
        text, html = mail.part("text/plain"), mail.part("text/html")
        for verb in ("deploy started", "deploy finished", "tests <passed>"):
            assert verb in text
        assert "tests &lt;passed&gt;" in html
        assert f'href="{SITE}/herald/"' in html
        assert re.fullmatch(rf"<{SITE}/herald/email/unsubscribe/\S+/>", mail.message["List-Unsubscribe"].strip())
        assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert EmailDigest.objects.get(user=reader).status == EmailDigest.Status.SENT
        assert not EmailDigest.objects.filter(user=bystander).exists()
        assert len(smtp.received) == 1
    finally:
        worker.stop()

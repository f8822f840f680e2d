"""The interactive drain with a real worker (herald_live/interactive.py, issue 13): under a burst of sends, one
running drain takes them all (the sends count on its mark and enqueue no task), and each recipient gets one row."""

from __future__ import annotations

import pytest
from notifications.models import Notification

from herald_live import services
from herald_live.models import Event
from tests.support import processes

pytestmark = pytest.mark.usefixtures("committed")

SENDS = 150


def test_a_burst_of_sends_is_fanned_out_by_a_few_drains_each_send_once(system_env, make_user):
    people = [make_user(f"burst{i}") for i in range(30)]
    actor = make_user("burst-actor")
    worker = processes.worker(system_env, name="burst-worker", queues="herald.interactive")
    worker.start().wait_for_log("ready.")
    try:
        before = worker.log().count("Task herald.fan_out_pending[")
        events = [
            services.send_notification(actor=actor, recipient=people[i % len(people)], verb=f"burst {i}", level="info")
            for i in range(SENDS)
        ]
        processes.wait_until(
            lambda: Event.objects.filter(pk__in=[e.pk for e in events], status=Event.Status.DONE).count() == SENDS,
            timeout=90,
            interval=0.5,
            what="every send of the burst fanned out",
        )
        drains = worker.log().count("Task herald.fan_out_pending[") // 2 - before // 2  # "received" and "succeeded"
    finally:
        worker.stop()

    for i in range(SENDS):
        assert Notification.objects.filter(recipient=people[i % len(people)], verb=f"burst {i}").count() == 1
    # A drain that took its mark down as it started (before) ran about one task per 10-20 ms of the burst.
    assert 1 <= drains <= 20, f"{drains} drains for {SENDS} sends"

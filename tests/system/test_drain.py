"""The interactive drain with real workers (herald_live/delivery/drain.py, issue 13): under a burst of sends, one
running drain takes them all (the sends count on its mark and enqueue no task), and each recipient gets one row; a
drain killed inside its transaction leaves its events to the next one.

No module-wide worker here: each test starts the workers it means, so that no other one takes its drain.
"""

from __future__ import annotations

import signal

import pytest
from django.db import transaction
from notifications.models import Notification

from herald_live.actions import sending
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
            sending.send_notification(actor=actor, recipient=people[i % len(people)], verb=f"burst {i}", level="info")
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


def event_done(event_id: int) -> bool:
    return Event.objects.get(pk=event_id).status == Event.Status.DONE


def test_a_drain_killed_before_its_commit_leaves_its_events_queued_for_the_next_one(system_env, make_user):
    """Sends to one user are fanned out many to a transaction (herald_live/delivery/drain.py): a worker killed
    inside that transaction must leave every one of them to the redelivered drain, each delivered once."""
    from django.db import connections

    people = [make_user(f"drained{i}") for i in range(4)]
    actor = make_user("drain-actor")
    env = {**system_env, "HERALD_BROKER_VISIBILITY_TIMEOUT": "5", "HERALD_BROKER_RESTORE_INTERVAL": "1"}
    first = processes.worker(env, name="drain-doomed-worker")
    second = processes.worker(env, name="drain-rescue-worker")
    with transaction.atomic():  # queued before any worker runs: the drain starts once the database is held
        events = [
            sending.send_notification(actor=actor, recipient=person, verb=f"drained {i}", level="info")
            for i, person in enumerate(people)
        ]
    blocker = _lock_notification_writes(connections["default"])
    try:
        first.start().wait_for_log("herald.fan_out_pending")  # received: the drain runs, and waits for the lock
        blocker.wait_until_blocked()
    finally:
        first.stop(signal.SIGKILL)  # (also when the wait failed: its whole process group goes)
        blocker.release()
    try:
        assert not any(event_done(event.pk) for event in events), "a drain finished before the kill: nothing tested"
        second.start().wait_for_log("ready.")
        processes.wait_until(
            lambda: all(event_done(event.pk) for event in events),
            timeout=90,
            interval=0.5,
            what="the redelivered drain",
        )
        for i, person in enumerate(people):
            assert Notification.objects.filter(recipient=person, verb=f"drained {i}").count() == 1
        assert {Event.objects.get(pk=event.pk).rows_persisted for event in events} == {1}
    finally:
        second.stop()


class _lock_notification_writes:
    """Holds the database so that a drain blocks inside its work: PostgreSQL, a lock on the notification table
    (the drain has claimed its events and waits at its INSERT); SQLite, the one write lock (it waits at its claim)."""

    def __init__(self, connection) -> None:
        self.vendor = connection.vendor
        settings = connection.settings_dict
        if self.vendor == "postgresql":
            import psycopg

            self.dsn = psycopg.conninfo.make_conninfo(
                host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"], dbname=settings["NAME"]
            )
            self.db = psycopg.connect(self.dsn)
            self.db.execute("LOCK TABLE notifications_notification IN SHARE ROW EXCLUSIVE MODE")
        else:
            import sqlite3

            self.db = sqlite3.connect(settings["NAME"], isolation_level=None)
            self.db.execute("BEGIN IMMEDIATE")

    def wait_until_blocked(self) -> None:
        if self.vendor != "postgresql":
            return  # the drain has been received; its claim waits for the write lock (30 s busy timeout)
        import psycopg

        # A connection of its own, outside the lock's transaction: pg_stat_activity is a snapshot per transaction.
        with psycopg.connect(self.dsn, autocommit=True) as watcher:
            processes.wait_until(
                lambda: watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database() AND query LIKE 'INSERT INTO \"notifications_notification\"%'"
                ).fetchone()[0],
                timeout=20,
                what="the drain waiting at its INSERT",
            )

    def release(self) -> None:
        self.db.rollback() if self.vendor == "postgresql" else self.db.execute("ROLLBACK")
        self.db.close()

"""Bulk producers with real workers: separate queues, parallel chunks, the command's --wait."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from notifications.models import Notification

from herald_live import producers
from herald_live.models import Event, EventChunk
from tests.support import processes
from tests.support.clients import LiveSocket, WebSession

pytestmark = pytest.mark.usefixtures("committed")
CHUNK = 50


@pytest.fixture(scope="module")
def many_users(django_db_blocker):
    User = get_user_model()
    with django_db_blocker.unblock():
        User.objects.bulk_create([User(username=f"bulk-user-{i:05d}") for i in range(600)])


def test_bulk_work_never_delays_interactive_work_and_runs_in_parallel(
    system_env, web_process, pusher_process, many_users, make_user
):
    env = {**system_env, "HERALD_FANOUT_CHUNK_SIZE": str(CHUNK)}
    alice, bob = make_user("alice"), make_user("bob")
    tab = WebSession(web_process.url, alice.username, alice.raw_password)
    socket = LiveSocket(origin=web_process.url).connect(pusher_process.url, tab.token())
    interactive = processes.worker(env, name="interactive-only", queues="herald.interactive").start()
    bulk = [processes.worker(env, name=f"bulk-{i}", queues="herald.bulk") for i in range(2)]
    try:
        interactive.wait_for_log("ready.")
        with transaction.atomic():
            big = producers.notify(recipients=producers.EVERYONE, verb="to everyone", level="info")

        # The bulk queue has no worker yet: the big event waits, a one-to-one send does not.
        WebSession(web_process.url, bob.username, bob.raw_password).send(to=alice.username, message="direct")
        socket.wait_for(lambda s: [n["verb"] for n in s.of_type("notification.created")] == ["direct"])
        assert Event.objects.get(pk=big).status == Event.Status.QUEUED

        for worker in bulk:
            worker.start()
        for worker in bulk:
            worker.wait_for_log("ready.")
        processes.wait_until(
            lambda: Event.objects.get(pk=big).status == Event.Status.DONE, timeout=120, interval=0.5, what="bulk"
        )

        event = Event.objects.get(pk=big)
        active = get_user_model().objects.filter(is_active=True).count()
        assert event.chunks_total == EventChunk.objects.filter(event=event).count() == -(-active // CHUNK)
        rows = Notification.objects.filter(verb="to everyone")
        assert rows.count() == rows.values("recipient_id").distinct().count() == active == event.rows_persisted
        assert f"fan-out chunk done event_id={big} " not in interactive.log()

        # Parallel chunks: with both bulk workers up and idle, one event's chunks are shared out.
        # (The event above cannot show it: its chunks may all be done before the second worker is up.)
        with transaction.atomic():
            shared = producers.notify(recipients=producers.EVERYONE, verb="shared out", level="info")
        processes.wait_until(
            lambda: Event.objects.get(pk=shared).status == Event.Status.DONE, timeout=120, interval=0.5, what="bulk"
        )
        marker = f"fan-out chunk done event_id={shared} "
        assert all(marker in worker.log() for worker in bulk), "one bulk worker did all the chunks"
        assert marker not in interactive.log()
        mine = rows.get(recipient=alice).id
        socket.wait_for(lambda s: mine in s.created_ids())
        assert socket.created_ids().count(mine) == 1
    finally:
        socket.close()
        for worker in (interactive, *bulk):
            worker.stop()


def test_the_command_waits_with_a_progress_bar_until_done(system_env, many_users):
    env = {**system_env, "HERALD_FANOUT_CHUNK_SIZE": str(CHUNK)}
    worker = processes.worker(env, name="bulk-for-command").start()
    try:
        worker.wait_for_log("ready.")
        result = subprocess.run(
            [sys.executable, "manage.py", "send_notification", "--everyone", "--verb", "waited", "--wait"],
            cwd=processes.ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        worker.stop()

    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("event ") and lines[0].endswith(" queued")
    final = json.loads(lines[-1])
    assert final["status"] == "done" and final["chunks_done"] == final["chunks_total"] > 1
    assert "chunks" in result.stderr and "100%" in result.stderr
    assert Notification.objects.filter(verb="waited").count() == final["rows_persisted"]

"""With no worker running, a send is accepted and waits in the broker; a worker started later delivers it."""

from __future__ import annotations

import pytest
from notifications.models import Notification

from herald_live.models import Event
from tests.support import processes
from tests.support.clients import LiveSocket, WebSession

pytestmark = pytest.mark.usefixtures("committed")


def test_a_send_waits_in_the_queue_until_a_worker_starts(
    system_env, web_process, pusher_process, broker_queue_length, make_user
):
    alice, bob = make_user("alice"), make_user("bob")
    tab = WebSession(web_process.url, alice.username, alice.raw_password)
    sender = WebSession(web_process.url, bob.username, bob.raw_password)
    socket = LiveSocket(origin=web_process.url).connect(pusher_process.url, tab.token())
    try:
        response = sender.send(to=alice.username, message="queued")

        assert response.status_code == 202
        event = Event.objects.get(pk=response.json()["event_id"])
        assert event.status == Event.Status.QUEUED
        assert broker_queue_length("herald.interactive") == 1
        assert not Notification.objects.filter(recipient=alice).exists()

        worker = processes.worker(system_env, name="late-worker").start()
        try:
            worker.wait_for_log("ready.")
            socket.wait_for(lambda s: len(s.created_ids()) == 1, timeout=20)
            # Publishing happens per chunk; the event is marked done just after its last one.
            processes.wait_until(
                lambda: Event.objects.get(pk=event.pk).status == Event.Status.DONE, timeout=10, what="event done"
            )
        finally:
            worker.stop()

        assert list(Notification.objects.filter(recipient=alice).values_list("id", flat=True)) == socket.created_ids()
        assert broker_queue_length("herald.interactive") == 0
    finally:
        socket.close()

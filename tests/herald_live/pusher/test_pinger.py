"""One heartbeat task for every socket: due sockets are pinged once, and a socket that left is not kept."""

from __future__ import annotations

import gc
import weakref

from engineio import packet

from herald_live.pusher.pinger import PingScheduler, schedule_ping_after_pong


class FakeSocket:
    """The part of engineio's Socket the scheduler touches."""

    def __init__(self) -> None:
        self.closing = self.closed = False
        self.last_ping: float | None = 1.0
        self.sent: list[int] = []

    def send(self, pkt) -> None:
        self.sent.append(pkt.packet_type)


def scheduler_at(now: list[float]) -> PingScheduler:
    return PingScheduler(interval=25, sleep=lambda _s: None, clock=lambda: now[0])


def test_a_socket_is_pinged_once_per_answered_ping_and_never_when_closed():
    now = [0.0]
    scheduler = scheduler_at(now)
    live, closed = FakeSocket(), FakeSocket()
    for sock in (live, closed):
        schedule_ping_after_pong(scheduler, weakref.ref(sock))
    closed.closed = True

    assert scheduler.ping_due(now=24.0) == 0
    assert scheduler.ping_due(now=25.0) == 1
    assert live.sent == [packet.PING] and closed.sent == []
    assert live.last_ping is not None  # waiting for the pong: no second ping is scheduled before it
    schedule_ping_after_pong(scheduler, weakref.ref(live))
    schedule_ping_after_pong(scheduler, weakref.ref(live))  # a second pong without a ping in between changes nothing
    now[0] = 25.0
    assert len(scheduler) == 1


def test_the_queue_does_not_keep_sockets_alive_and_drops_entries_of_those_that_left():
    now = [0.0]
    scheduler = scheduler_at(now)
    for _ in range(1000):
        schedule_ping_after_pong(scheduler, weakref.ref(FakeSocket()))  # each one is gone at once
    gc.collect()
    keeper = FakeSocket()
    schedule_ping_after_pong(scheduler, weakref.ref(keeper))

    assert scheduler.ping_due(now=1.0) == 0  # nothing due; the dead entries are swept
    assert len(scheduler) == 1
    assert scheduler.ping_due(now=25.0) == 1 and keeper.sent == [packet.PING]

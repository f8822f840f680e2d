from herald_live.pusher.expiry import ExpiryHeap, run


def test_due_sids_come_out_in_deadline_order_and_only_once():
    heap = ExpiryHeap()
    for sid, at in (("late", 30.0), ("early", 10.0), ("middle", 20.0)):
        heap.add(sid=sid, expires_at=at)

    assert heap.pop_due(now=5.0) == []
    assert heap.pop_due(now=20.0) == ["early", "middle"]
    assert heap.pop_due(now=20.0) == []
    assert heap.pop_due(now=99.0) == ["late"]
    assert len(heap) == 0


def test_the_timer_task_expires_what_is_due():
    heap = ExpiryHeap()
    heap.add(sid="past", expires_at=0.0)
    heap.add(sid="future", expires_at=2**40)
    expired: list[str] = []

    class Stop(Exception):
        pass

    def sleep(seconds: float) -> None:
        raise Stop

    try:
        run(heap=heap, expire=expired.append, sleep=sleep)
    except Stop:
        pass

    assert expired == ["past"]
    assert len(heap) == 1


def test_a_socket_that_leaves_takes_its_entry_and_the_heap_stays_bounded():
    heap = ExpiryHeap()
    heap.add(sid="stays", expires_at=100.0)
    # Page loads for days: each socket connects with a far deadline, then leaves.
    for n in range(10_000):
        heap.add(sid=f"tab-{n}", expires_at=1_000.0 + n)
        heap.remove(f"tab-{n}")

    assert len(heap) == 1
    assert heap.entries <= 2 * len(heap) + 64 + 1
    assert heap.pop_due(now=10**6) == ["stays"]


def test_a_removed_or_readded_sid_is_expired_by_its_latest_deadline_only():
    heap = ExpiryHeap()
    heap.add(sid="gone", expires_at=10.0)
    heap.remove("gone")
    heap.add(sid="moved", expires_at=10.0)
    heap.add(sid="moved", expires_at=50.0)

    assert heap.pop_due(now=20.0) == []
    assert heap.pop_due(now=60.0) == ["moved"]
    assert len(heap) == 0

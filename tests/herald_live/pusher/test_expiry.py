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

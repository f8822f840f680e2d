from herald_live import wire
from herald_live.pusher.ended import EndedSessions


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_ended_session_is_remembered_while_a_token_signed_before_could_be_valid():
    clock = Clock()
    ended = EndedSessions(token_ttl_seconds=120, clock=clock)
    ended.add("session:a")
    clock.now += 120 + 2 * wire.CLOCK_SKEW_SECONDS - 0.01
    assert "session:a" in ended
    assert "session:b" not in ended
    clock.now += 0.02
    assert "session:a" not in ended
    assert len(ended) == 0


def test_a_second_drop_of_the_same_session_renews_it():
    clock = Clock()
    ended = EndedSessions(token_ttl_seconds=10, clock=clock)
    ended.add("session:a")
    clock.now += 15
    ended.add("session:a")
    clock.now += 10  # past the first deadline, not the second
    assert "session:a" in ended
    clock.now += 10
    assert "session:a" not in ended


def test_memory_is_bounded_by_the_drops_of_one_token_lifetime():
    clock = Clock()
    ended = EndedSessions(token_ttl_seconds=10, clock=clock)
    for i in range(1000):
        clock.now = 1000 + i / 10  # 1,000 drops over 100 s; each kept 20 s
        ended.add(f"session:{i}")
    clock.now += 0.05  # between two deadlines
    assert len(ended) == 200
    assert "session:999" in ended and "session:800" in ended and "session:799" not in ended

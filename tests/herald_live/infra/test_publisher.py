"""The publisher's messages are the ones python-socketio itself would publish."""

from __future__ import annotations

import pytest
import socketio

from herald_live import wire
from herald_live.infra import publisher


def captured(manager_class: type) -> tuple[socketio.RedisManager, list[dict]]:
    sent: list[dict] = []

    class Capturing(manager_class):
        def _publish(self, data):
            sent.append(data)

    manager = Capturing("redis://127.0.0.1:6379/13", channel="herald-test-publisher", write_only=True)
    return manager, sent


@pytest.mark.parametrize(
    ("event", "data", "room"),
    [
        (
            wire.BATCH_EVENT,
            {"items": [[["session:a", "session:b"], {"v": 1, "type": "x", "data": {"n": [1, None]}}]]},
            wire.BATCH_ROOM,
        ),
        (wire.SOCKET_EVENT, wire.notification_read(notification_id=7), ["session:a"]),
        (wire.SOCKET_EVENT, ("two", "arguments"), "session:a"),
    ],
)
def test_a_message_is_what_the_library_would_publish(event, data, room):
    ours, ours_sent = captured(publisher.JsonRedisManager)
    library, library_sent = captured(socketio.RedisManager)
    library.host_id = ours.host_id

    ours.emit(event, data, namespace=wire.NAMESPACE, room=room)
    library.emit(event, data, namespace=wire.NAMESPACE, room=room)

    assert ours_sent == library_sent
    assert len(ours_sent) == 1


def test_callbacks_are_refused_rather_than_lost():
    ours, sent = captured(publisher.JsonRedisManager)
    with pytest.raises(ValueError):
        ours.emit(wire.SOCKET_EVENT, {}, room="session:a", callback=print)
    assert sent == []


def test_a_message_redis_does_not_take_raises_rather_than_counting_as_sent():
    # python-socketio's own publish logs "giving up" and returns: the caller would think it sent.
    manager = publisher.JsonRedisManager(
        "redis://127.0.0.1:1/0", channel="herald-test-nowhere", write_only=True, redis_options={"socket_timeout": 1}
    )
    with pytest.raises(publisher.PublishFailed, match="Redis did not take the message"):
        manager.emit(wire.SOCKET_EVENT, wire.notification_read(notification_id=1), namespace=wire.NAMESPACE, room="r")

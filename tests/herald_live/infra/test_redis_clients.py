"""One Redis client factory on the Django side (herald_live/infra/redis_clients.py): the caller's timeout holds."""

from __future__ import annotations

import pytest
import redis

from herald_live.infra import redis_clients
from tests.support.processes import free_port


def test_one_client_per_url_and_timeout_in_a_process(redis_client):
    url = redis_client.connection_pool.connection_kwargs
    address = f"redis://{url['host']}:{url['port']}/{url['db']}"

    first = redis_clients.client(address, timeout=1)
    assert redis_clients.client(address, timeout=1) is first
    assert redis_clients.client(address, timeout=0.5) is not first
    assert first.ping()
    assert first.connection_pool.connection_kwargs["socket_timeout"] == 1
    assert first.connection_pool.connection_kwargs["socket_connect_timeout"] == 1


def test_a_redis_that_does_not_answer_fails_within_the_callers_timeout():
    dead = redis_clients.client(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    with pytest.raises(redis.ConnectionError):
        dead.ping()
    assert dead.connection_pool.connection_kwargs["socket_connect_timeout"] == 0.5

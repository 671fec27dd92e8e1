"""Fleet tests run against a real ``redis-server`` started for the session on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from ._redis_server import RedisServer, redis_server


@pytest.fixture(scope="session")
def redis_instance() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
def redis_url(redis_instance: RedisServer) -> str:
    """The session's server, emptied before each test."""
    client = redis.Redis.from_url(redis_instance.url)
    client.flushdb()
    client.close()
    return redis_instance.url

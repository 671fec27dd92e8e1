"""RedisFleet against a real redis-server: nonces, in-flight slots, the shared call counter."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio

from kraken_prime_async import (
    CoordinationError,
    PrimeClient,
    RateLimit,
    RedisFleet,
    RedisNonceSource,
    ValidationError,
)
from kraken_prime_async._constants import AUTO_RATE_LIMIT_QUIET
from kraken_prime_async._keys.fleet import key_id

from ..._fakes import FakeClock
from ..test_nonce import _source
from ._redis_server import redis_server
from .test_file_lock import SECRET, assert_fleet_sequence, run_nonce_workers


async def test_nonces_increase_and_survive_a_restart_and_a_clock_step(redis_url: str) -> None:
    clock = FakeClock(1_700_000_000.0)
    source = RedisNonceSource(redis_url, key="kp-test:n", clock=clock)
    first = await source.next_nonce()
    assert first == 1_700_000_000_000
    assert await source.next_nonce() == first + 1
    clock.now -= 3600
    assert await source.next_nonce() == first + 2
    await source.close()
    again = RedisNonceSource(redis_url, key="kp-test:n", clock=clock)
    assert await again.next_nonce() == first + 3
    await again.close()


async def test_a_nonce_at_least_a_floor_keeps_the_sequence_increasing(redis_url: str) -> None:
    clock = FakeClock(1_700_000_000.0)
    source = RedisNonceSource(redis_url, key="kp-test:floor", clock=clock)
    first = await source.next_nonce()
    floor = first + 5001  # a fence above a lost request, 5 s window
    assert await source.next_nonce_at_least(floor) == floor
    assert await source.next_nonce() == floor + 1  # every member continues above it
    assert await source.next_nonce_at_least(first) == floor + 2  # a floor never lowers it
    await source.close()


async def test_units_are_checked(redis_url: str) -> None:
    ms = RedisNonceSource(redis_url, key="kp-test:n", unit="ms")
    us = RedisNonceSource(redis_url, key="kp-test:n", unit="us")
    await ms.next_nonce()
    with pytest.raises(ValidationError, match=r"nonce_unit.*'us'.*'ms'"):
        await us.next_nonce()
    with pytest.raises(ValidationError, match="nonce_unit"):
        RedisNonceSource(redis_url, key="kp-test:n", unit="ns")
    with pytest.raises(ValidationError, match="key"):
        RedisNonceSource(redis_url, key="")
    await ms.close()
    await us.close()


async def test_a_callers_client_is_used_and_left_open(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    source = RedisNonceSource(client, key="kp-test:n")
    await source.next_nonce()
    await source.close()
    assert await client.ping()
    await client.aclose()


def test_nonces_are_unique_across_processes(redis_url: str) -> None:
    sequences = run_nonce_workers("redis", redis_url, processes=4, count=500)
    assert_fleet_sequence(sequences, 500)


async def test_unreachable_redis_is_a_clear_error_without_the_password() -> None:
    with redis_server() as server:
        url = f"redis://:hunter2-secret@127.0.0.1:{server.port}/3"
    source = RedisNonceSource(url, key="kp-test:n")  # the server is gone now
    with pytest.raises(CoordinationError) as caught:
        await source.next_nonce()
    message = str(caught.value)
    assert "unreachable" in message and "nothing was sent" in message
    assert caught.value.store == f"redis 127.0.0.1:{server.port}/3"
    assert "hunter2" not in message + repr(source) + repr(caught.value.__cause__)
    await source.close()


async def test_one_slot_fleet_wide_with_a_window_of_0(redis_url: str) -> None:
    a, b = RedisFleet(redis_url), RedisFleet(redis_url)  # two hosts
    gate_a = a.gate("KEY", window_seconds=0, max_in_flight=8)
    gate_b = b.gate("KEY", window_seconds=0, max_in_flight=8)
    token = await gate_a.acquire(30)
    waiting = asyncio.ensure_future(gate_b.acquire(30))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await gate_a.release(token)
    await gate_b.release(await asyncio.wait_for(waiting, 5))
    await a.close()
    await b.close()


async def test_window_cap_age_rule_and_lease(redis_url: str) -> None:
    clock = FakeClock(1_700_000_000.0)
    fleet = RedisFleet(redis_url, clock=clock)
    gate = fleet.gate("KEY", window_seconds=4, max_in_flight=2)
    first = await gate.acquire(30)
    clock.now += 1.0  # the oldest is 1 s out, under half the 4 s window: a second may go
    await gate.acquire(30)
    third = asyncio.ensure_future(gate.acquire(30))  # cap of 2 reached
    await asyncio.sleep(0.03)
    assert not third.done()
    await gate.release(first)
    clock.now += 1.5  # the remaining one is 1.5 s out: still under 2 s
    await asyncio.wait_for(third, 5)
    # Both holders "die": their leases (30 s) run out and the slots come back.
    clock.now += 31
    assert await asyncio.wait_for(gate.acquire(30), 5)
    ttl = await fleet._scripts.client.pttl(f"kraken-prime:{key_id('KEY')}:inflight")
    assert 0 < ttl <= 30_000
    await fleet.close()


async def test_an_old_request_holds_new_ones_back(redis_url: str) -> None:
    clock = FakeClock(1_700_000_000.0)
    fleet = RedisFleet(redis_url, clock=clock)
    gate = fleet.gate("KEY", window_seconds=4, max_in_flight=8)
    old = await gate.acquire(30)
    clock.now += 2.5  # past half the window: a newer nonce could overtake it by too much
    waiting = asyncio.ensure_future(gate.acquire(30))
    await asyncio.sleep(0.03)
    assert not waiting.done()
    await gate.release(old)
    await asyncio.wait_for(waiting, 5)
    await fleet.close()


async def test_the_call_counter_is_shared_by_the_fleet(redis_url: str) -> None:
    clock = FakeClock(1_700_000_000.0)
    tier = RateLimit(max_counter=4, decay_per_second=2.0)
    fleets = RedisFleet(redis_url), RedisFleet(redis_url)
    a, b = (fleet.counter("KEY", tier, auto=False, clock=clock) for fleet in fleets)
    for member in (a, b, a):
        assert await member.acquire(1, clock.sleep) == 0
    assert await b.acquire(1, clock.sleep) == pytest.approx(0.25)
    assert clock.sleeps == [pytest.approx(0.25)]
    for fleet in fleets:
        await fleet.close()


async def test_auto_members_learn_of_a_refusal_and_a_throttle(redis_url: str) -> None:
    clock = FakeClock(1_700_000_000.0)
    fleets = RedisFleet(redis_url), RedisFleet(redis_url)
    a, b = (fleet.counter("KEY", None, auto=True, clock=clock) for fleet in fleets)
    assert await b.acquire(1, clock.sleep) == 0 and not b.active
    await a.refused(clock.now + 40, 1)  # Kraken refused a's call with a 40 s hold
    assert a.active
    waited = await b.acquire(1, clock.sleep)
    assert waited == pytest.approx(40)  # the hold, honoured to its timestamp
    assert not b.active  # a Throttled says nothing about the counter: no tier assumed
    # A counter refusal: b's two calls 40 s apart explain no tier's, so the fleet paces as the
    # starter tier.
    await a.refused(None, 1)
    waited = await b.acquire(1, clock.sleep)
    assert b.active and waited == pytest.approx((16 + 1 - 14.5) / 0.33)
    for fleet in fleets:
        await fleet.close()


async def test_a_counter_of_the_previous_format_still_reads(redis_url: str) -> None:
    clock = FakeClock(1_700_000_000.0)
    fleet = RedisFleet(redis_url)
    key = f"{fleet.namespace}:{key_id('KEY')}"
    raw = redis.asyncio.Redis.from_url(redis_url)
    # No learnt time, no send times: the starter tier "auto" used to store for good
    await raw.hset(
        f"{key}:counter",
        mapping={"value": 19, "updated": clock.now, "blocked": 0, "max": 15, "decay": 0.33},
    )
    auto = fleet.counter("KEY", None, auto=True, clock=clock)
    assert await auto.acquire(1, clock.sleep) == pytest.approx((19 + 1 - 14.5) / 0.33)
    clock.now = 1_700_000_000.0 + AUTO_RATE_LIMIT_QUIET  # counted as learnt when last updated
    assert await auto.acquire(1, clock.sleep) == 0 and not auto.active
    for _ in range(70):
        await auto.acquire(1, clock.sleep)
    assert await raw.llen(f"{key}:calls") == 64  # the send times kept to explain a refusal
    await fleet.forget("KEY")
    assert await raw.exists(f"{key}:counter", f"{key}:calls") == 0
    await raw.aclose()
    await fleet.close()


async def test_clients_on_a_fleet_share_its_nonce_sequence(redis_url: str) -> None:
    fleet = RedisFleet(redis_url)
    client = PrimeClient("KEY", SECRET, fleet=fleet)
    assert _source(client) is fleet.nonce_source("KEY", "ms")
    with pytest.raises(ValidationError, match="nonce_unit"):
        PrimeClient("KEY", SECRET, fleet=fleet, nonce_unit="ns")
    assert "KEY" not in repr(fleet)
    await client.close()
    await fleet.close()

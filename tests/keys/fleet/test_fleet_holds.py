"""An abandoned request's fleet slot stays taken for its hold, for every member of the fleet
(issue 12, section 1): another process must not overtake it either."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kraken_prime_async import FileLockFleet, PrimeClient, RedisFleet
from kraken_prime_async._keys.fleet._base import Renewal
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FakeClock, unique_key

HOLD = 0.3


async def test_a_held_file_slot_is_busy_for_other_members(tmp_path: Path) -> None:
    key = unique_key()
    mine, theirs = FileLockFleet(tmp_path), FileLockFleet(tmp_path)  # two processes' views
    gate = mine.gate(key, window_seconds=0, max_in_flight=8)
    other = theirs.gate(key, window_seconds=0, max_in_flight=8)
    await gate.release(await gate.acquire(30), HOLD)
    waiting = asyncio.ensure_future(other.acquire(30))
    await asyncio.sleep(HOLD / 2)
    assert not waiting.done()  # the slot is unlocked but held
    token = await asyncio.wait_for(waiting, 5)
    await other.release(token)  # a plain release clears the hold record
    await other.release(await asyncio.wait_for(gate.acquire(30), 0.05))


async def test_a_held_redis_slot_is_busy_for_other_members(redis_url: str) -> None:
    clock = FakeClock()
    a, b = RedisFleet(redis_url, clock=clock), RedisFleet(redis_url, clock=clock)
    key = unique_key()
    gate_a = a.gate(key, window_seconds=0, max_in_flight=8)
    gate_b = b.gate(key, window_seconds=0, max_in_flight=8)
    await gate_a.release(await gate_a.acquire(30), HOLD)
    waiting = asyncio.ensure_future(gate_b.acquire(30))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    clock.now += HOLD  # the hold's lease runs out
    await gate_b.release(await asyncio.wait_for(waiting, 5))
    await a.close()
    await b.close()


async def test_a_client_in_a_fleet_holds_the_fleet_slot_of_an_abandoned_request(
    tmp_path: Path,
) -> None:
    async with PrimeSandbox(rate_limit=False) as sb:
        fleet = FileLockFleet(tmp_path)
        client = PrimeClient(
            sb.api_key, sb.api_secret, base_url=sb.url, fleet=fleet, abandon_hold=HOLD
        )
        async with client:
            sb.faults.add("ListPrimeApiUsers", "delay_before", seconds=HOLD - 0.05)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.api_users.list(), 0.05)
            other = FileLockFleet(tmp_path).gate(sb.api_key, window_seconds=0, max_in_flight=8)
            waiting = asyncio.ensure_future(other.acquire(30))  # another process's member
            await asyncio.sleep(0.05)
            assert not waiting.done()
            token = await asyncio.wait_for(waiting, 5)
            # freed when the abandoned request's answer came (watched), before the hold's bound
            assert [r.fault for r in sb.calls("ListPrimeApiUsers")] == ["delay_before"]
            await other.release(token)
            await client.api_users.list()
        await asyncio.sleep(HOLD)
        assert not any("EAPI:Invalid nonce" in r.errors for r in sb.requests)


# -- a member that dies holding a slot (issue 23) ---------------------------------------------

LEASE = 0.3


_HOLDER = """
import asyncio, sys
from kraken_prime_async import FileLockFleet

async def main():
    gate = FileLockFleet(sys.argv[1]).gate(sys.argv[2], window_seconds=0, max_in_flight=8)
    await gate.acquire(float(sys.argv[3]))
    print("held", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_a_file_slot_outlives_a_dead_holder_by_its_lease(tmp_path: Path) -> None:
    # before: the kernel dropped a killed member's lock and another member overtook its request
    key = unique_key()
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _HOLDER, str(tmp_path), key, str(LEASE), stdout=subprocess.PIPE
    )
    assert holder.stdout is not None
    assert await asyncio.wait_for(holder.stdout.readline(), 30) == b"held\n"
    holder.kill()  # dies with the slot (its request may still be travelling)
    await holder.wait()
    started = time.monotonic()
    other = FileLockFleet(tmp_path)
    gate = other.gate(key, window_seconds=0, max_in_flight=8)
    token = await asyncio.wait_for(gate.acquire(30), 5)
    assert 0.05 <= time.monotonic() - started < LEASE + 0.5
    await gate.release(token)
    await other.close()


async def test_a_redis_slot_outlives_a_dead_holder_by_its_lease_not_the_timeout(
    redis_url: str,
) -> None:
    # before: a dead member blocked the key for the attempt's timeout + 5 s (34 s)
    key = unique_key()
    dying, other = RedisFleet(redis_url), RedisFleet(redis_url)
    await dying.gate(key, window_seconds=0, max_in_flight=8).acquire(LEASE)
    started = time.monotonic()
    gate = other.gate(key, window_seconds=0, max_in_flight=8)
    token = await asyncio.wait_for(gate.acquire(30), 5)
    assert LEASE * 0.8 <= time.monotonic() - started < LEASE + 0.5
    await gate.release(token)
    for fleet in (dying, other):
        await fleet.close()


@pytest.mark.parametrize("backend", ["file", "redis"])
async def test_a_live_holder_renews_its_lease(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    key = unique_key()
    if backend == "file":
        fleets: tuple[Any, Any] = (FileLockFleet(tmp_path), FileLockFleet(tmp_path))
    else:
        url = request.getfixturevalue("redis_url")
        fleets = (RedisFleet(url), RedisFleet(url))
    holder = fleets[0].gate(key, window_seconds=0, max_in_flight=8)
    token = await holder.acquire(LEASE)
    renewal = Renewal(holder, token, LEASE)  # as a slot does while its request travels
    waiting = asyncio.ensure_future(
        fleets[1].gate(key, window_seconds=0, max_in_flight=8).acquire(30)
    )
    await asyncio.sleep(LEASE * 3)
    assert not waiting.done()  # three leases later, still the holder's
    renewal.stop()
    await holder.release(token)
    await (
        fleets[1]
        .gate(key, window_seconds=0, max_in_flight=8)
        .release(await asyncio.wait_for(waiting, 5))
    )
    for fleet in fleets:
        await fleet.close()

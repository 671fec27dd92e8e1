"""Child process of the fleet tests: one member of a fleet sharing a key with its siblings.

``python -m tests.keys.fleet._fleet_worker CONFIG_JSON`` runs ``tasks`` concurrent tasks that each
make ``calls`` signed calls (``ListPrimeApiUsers``) on the shared key, starting together at
``start_at``, and prints one JSON line: successes, errors by class, and the client's counters.
With ``nonce_only`` the members share only the nonce sequence (the README's contrast).
With ``until_error`` each task keeps calling until a call raises (the Redis-goes-away test).
With ``sleep_clock`` the client's clock moves only while the client sleeps (``SleepClock``).
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import time
from typing import Any

import msgspec

from kraken_prime_async import (
    FileLockFleet,
    KrakenPrimeError,
    PrimeClient,
    RateLimit,
    RedisFleet,
)


class SleepClock:
    """A wall clock that stands still except while the client sleeps (from ``start``).

    The call-counter model then decays only by the time members spent waiting for it: never
    faster than real time (so a Kraken on the same tier never refuses), and not at all between
    calls, so the fleet's first call beyond the counter's maximum waits for certain, however
    slowly the machine runs. Overlapping sleeps move it to the furthest end, not their sum.
    """

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        end = self.now + seconds
        await asyncio.sleep(seconds)
        self.now = max(self.now, end)


async def main(config: dict[str, Any]) -> dict[str, Any]:
    fleet: FileLockFleet | RedisFleet
    if config["fleet"] == "redis":
        fleet = RedisFleet(config["where"])
    else:
        fleet = FileLockFleet(config["where"])
    rate_limit = RateLimit(*config["rate_limit"]) if config.get("rate_limit") else None
    shared: dict[str, Any] = {"fleet": fleet}
    if config.get("nonce_only"):  # the contrast: a shared nonce sequence without the slots
        shared = {"nonce_source": fleet.nonce_source(config["api_key"], "ms")}
    if config.get("sleep_clock"):
        clock = SleepClock(config["start_at"])
        shared.update(clock=clock, sleep=clock.sleep)
    client = PrimeClient(
        config["api_key"],
        config["api_secret"],
        base_url=config["base_url"],
        rate_limit=rate_limit,
        **shared,
    )
    errors: collections.Counter[str] = collections.Counter()
    messages: list[str] = []
    successes = 0

    async def task() -> None:
        nonlocal successes
        for _ in range(config["calls"]):
            try:
                await client.api_users.list()
            except KrakenPrimeError as exc:
                errors[type(exc).__name__] += 1
                messages.append(str(exc))
                if config.get("until_error"):
                    return
            else:
                successes += 1

    await asyncio.sleep(max(0.0, config["start_at"] - time.time()))
    async with client:
        await asyncio.gather(*(task() for _ in range(config["tasks"])))
    if isinstance(fleet, RedisFleet):
        await fleet.close()
    return {
        "successes": successes,
        "errors": dict(errors),
        "messages": sorted(set(messages))[:5],
        "stats": msgspec.structs.asdict(client.stats),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))

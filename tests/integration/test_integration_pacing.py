"""``rate_limit="auto"`` on the sandbox's call counter (intermediate tier, the sandbox's default),
on an injected clock shared by the sandbox and the client (nothing waits for real)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kraken_prime_async import PrimeClient
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FakeClock

pytestmark = pytest.mark.integration

#: The sandbox's default tier: counter max 20, decaying 0.5 a second.
MAX, DECAY = 20, 0.5


async def test_the_newcomers_app_runs_near_the_tiers_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # issue 23: 100 tasks on the default sandbox printed nothing for 603 s (1.3 x the bound)
    caplog.set_level(logging.WARNING, logger="kraken_prime_async")
    clock = FakeClock()
    async with (
        PrimeSandbox(clock=clock) as sb,
        PrimeClient(
            sb.api_key, sb.api_secret, base_url=sb.url, sleep=clock.sleep, clock=clock
        ) as client,
    ):
        started = clock.now

        async def create(index: int) -> None:
            await client.api_users.create(f"Desk {index}", "Trader")

        async def poll() -> None:
            await client.settlement.list_batches()

        await asyncio.gather(*(create(i) for i in range(50)), *(poll() for _ in range(50)))
        elapsed = clock.now - started
        sent = len(sb.requests)  # refused calls count on Kraken's counter too
        bound = (sent - MAX) / DECAY
        assert len(await client.api_users.list()) == 50
    print(
        f"newcomer: {elapsed:.0f} s for {sent} calls; bound {bound:.0f} s; {elapsed / bound:.3f} x"
    )
    assert elapsed <= 1.1 * bound, (elapsed, bound, sent)
    assert any(
        "waited" in r.getMessage() and "rate_limit" in r.getMessage() for r in caplog.records
    )

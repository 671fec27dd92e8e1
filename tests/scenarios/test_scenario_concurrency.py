"""Issue scenarios: many tasks on one key over a reordering network, and a 100-leg batch settled
exactly once under faults and after an interrupted run."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from kraken_prime_async import LegOutcome, SettlementReport
from kraken_prime_async._constants import AUTO_RATE_LIMIT_QUIET
from tests.integration._env import sandbox_and_client

pytestmark = pytest.mark.integration

#: Random per-request latency (seconds) so requests overtake each other on the way in.
LATENCY = (0.0, 0.004)


async def test_200_concurrent_calls_on_one_key_with_window_zero() -> None:
    async with sandbox_and_client(rate_limit=True, tier="pro", latency=LATENCY, seed=11) as (
        sb,
        client,
        _clock,
    ):
        # Lost answers (reads retry them). Faults are taken in arrival order, so a run of them is
        # an outage to the client's retry budget; three in a row per method is a flaky network.
        sb.faults.add("ListPrimeApiUsers", "drop_after", times=3)
        sb.faults.add("GetPrimeApiUser", "drop_before", times=3)
        user = await client.api_users.create("Desk A", "Trader")
        calls: list[Coroutine[Any, Any, object]] = [client.api_users.list() for _ in range(100)]
        calls += [client.api_users.get(user.id) for _ in range(100)]
        results = await asyncio.gather(*calls)
        assert len(results) == 200
        stats = client.stats
        assert stats.failures == 0 and stats.successes == 202  # the create reads users first
        assert stats.nonce_rejections / stats.attempts < 0.02
        # rate_limit="auto": Kraken refuses once; every call queued behind it is then paced,
        # and the model relaxes after AUTO_RATE_LIMIT_QUIET s without refusals (on the fake
        # clock this run paces for minutes): at most one more refusal per quiet period.
        assert stats.rate_limit_errors <= 1 + stats.rate_limit_wait_seconds // AUTO_RATE_LIMIT_QUIET
        errors = [e for r in sb.requests for e in r.errors]
        assert "EGeneral:Temporary lockout" not in errors
        assert errors.count("EAPI:Invalid nonce") == stats.nonce_rejections


async def test_with_a_nonce_window_requests_overlap_without_rejections() -> None:
    window_ms = 5000
    async with sandbox_and_client(
        rate_limit=False,
        latency=LATENCY,
        seed=5,
        nonce_window=window_ms,
        client_kwargs={"nonce_window": window_ms, "max_in_flight": 8},
    ) as (sb, client, _clock):
        await asyncio.gather(*(client.api_users.list() for _ in range(200)))
        assert client.stats.nonce_rejections == 0
        arrival = [r.nonce for r in sb.requests if r.nonce is not None]
        assert arrival != sorted(arrival)  # they really did arrive out of order


async def _settle_until_complete(client: object, batch_id: str) -> list[SettlementReport]:
    from kraken_prime_async import PrimeClient

    assert isinstance(client, PrimeClient)
    reports = []
    for _ in range(4):
        report = await client.settlement.settle_batch(batch_id, concurrency=8)
        reports.append(report)
        if report.complete:
            break
    return reports


async def test_a_100_leg_batch_settles_exactly_once_under_faults_and_interruption() -> None:
    async with sandbox_and_client(rate_limit=True, tier="pro", latency=LATENCY, seed=3) as (
        sb,
        client,
        _clock,
    ):
        for index in range(100):
            sb.add_trade(f"T{index:03d}", str(index + 1))
        batch = await client.settlement.create_batch()
        sb.confirm_batch(batch.id)
        method = "SettlePrimeSettlementBatchAsset"
        sb.faults.add(method, "drop_after", times=4)  # settled, answer lost
        sb.faults.add(method, "drop_before", times=3)  # never processed, answer lost
        sb.faults.add(method, "http_500", times=2)  # not processed, ambiguous to the client
        sb.faults.add(method, "error", times=3, message="EService:Unavailable")  # retried
        sb.faults.add(method, "malformed_json", times=2)  # settled, answer unreadable

        # First run: interrupted (Ctrl-C) after 30 legs are reported.
        interrupted = asyncio.Event()

        def stop_after_30(done: int, total: int, outcome: LegOutcome) -> None:
            if done >= 30:
                interrupted.set()

        run = asyncio.ensure_future(
            client.settlement.settle_batch(batch.id, concurrency=8, on_progress=stop_after_30)
        )
        await interrupted.wait()
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run

        reports = await _settle_until_complete(client, batch.id)
        assert reports[-1].complete
        settles = [r for r in sb.calls(method) if r.processed]
        assert len(settles) == 100  # every leg exactly once: a second settle would be processed
        final = await client.settlement.get_batch(batch.id)
        assert all(leg.status != "unsettled" for leg in final.legs)
        assert client.stats.nonce_rejections / client.stats.attempts < 0.02

"""Structured concurrency and state that recovers (issue 12, section 7): settle_batch leaves no
task behind, a far ``Throttled`` time is bounded by ``max_throttle_wait`` for every waiting call,
``rate_limit="auto"`` relaxes, and per-key shared settings are released by the last client."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from kraken_prime_async import (
    FileLockFleet,
    PrimeClient,
    RateLimitError,
    RetryPolicy,
    ValidationError,
)
from kraken_prime_async._constants import AUTO_RATE_LIMIT_QUIET
from kraken_prime_async._keys.pacing import TIERS, CallCounter
from kraken_prime_async._tasks import run_together
from kraken_prime_async.models import LegOutcome
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FakeClock, ScriptedTransport, kraken_error, make_client, unique_key

pytestmark = pytest.mark.integration

LEGS = 10
DAY = 86_400.0


async def _confirmed_batch(sb: PrimeSandbox, client: PrimeClient) -> str:
    for index in range(LEGS):
        sb.add_trade(f"A{index}", "1.5")
    batch = await client.settlement.create_batch()
    sb.confirm_batch(batch.id)
    return batch.id


def _sdk_tasks() -> list[asyncio.Task[object]]:
    current = asyncio.current_task()
    return [
        t
        for t in asyncio.all_tasks()
        if t is not current
        and "/kraken_prime_async/"
        in getattr(getattr(t.get_coro(), "cr_code", None), "co_filename", "")
    ]


def _transfers(sb: PrimeSandbox) -> int:
    return sum(
        1 for r in sb.requests if r.operation == "SettlePrimeSettlementBatchAsset" and r.processed
    )


async def test_a_raising_callback_leaves_no_task_and_keeps_the_report(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    def on_progress(done: int, total: int, outcome: LegOutcome) -> None:
        calls.append(done)
        raise RuntimeError("progress display broke")

    async with (
        PrimeSandbox(rate_limit=False, latency=(0.0, 0.01), seed=3) as sb,
        PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url) as client,
    ):
        batch_id = await _confirmed_batch(sb, client)
        report = await client.settlement.settle_batch(
            batch_id, concurrency=4, on_progress=on_progress
        )
        at_return = _transfers(sb)
        assert len(report.settled) == LEGS and at_return == LEGS
        assert calls == [1]  # not called again after it raised
        await asyncio.sleep(0.05)
        assert _transfers(sb) == at_return  # nothing kept sending after the return
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"settle_batch {batch_id}: on_progress raised RuntimeError; it is not called again and "
        "every leg is still settled and reported"
    ]


async def test_cancelling_settle_batch_stops_every_leg_before_it_returns() -> None:
    async with (
        PrimeSandbox(rate_limit=False, latency=(0.005, 0.01), seed=4) as sb,
        PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url) as client,
    ):
        batch_id = await _confirmed_batch(sb, client)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.settlement.settle_batch(batch_id), 0.03)
        attempts = client.stats.attempts
        # every leg task finished before wait_for returned; the one request on the wire at
        # cancellation (window 0) is watched to its end by the client (owned, not a leg)
        watched = _sdk_tasks()
        assert len(watched) <= 1
        assert all(t.get_coro().__qualname__ == "AiohttpTransport._exchange" for t in watched)  # type: ignore[union-attr]
        await asyncio.sleep(0.1)
        assert _sdk_tasks() == []  # its answer came
        assert client.stats.attempts == attempts  # nothing sent after the return
        # At most the one request on the wire at cancellation (window 0) lands afterwards.
        assert len(sb.calls("SettlePrimeSettlementBatchAsset")) < LEGS


async def test_run_together_cancels_and_awaits_the_others_when_one_fails() -> None:
    finished: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            finished.append("slow")

    async def failing() -> None:
        await asyncio.sleep(0)
        raise KeyError("leg")

    with pytest.raises(KeyError):
        await run_together([slow(), failing(), slow()])
    assert finished == ["slow", "slow"]  # both stopped before run_together raised


async def test_a_day_long_throttle_is_bounded_for_every_waiting_call() -> None:
    clock = FakeClock()
    async with PrimeSandbox(rate_limit=False, clock=clock) as sb:
        client = PrimeClient(
            sb.api_key, sb.api_secret, base_url=sb.url, clock=clock, sleep=clock.sleep
        )
        async with client:
            sb.faults.add("ListPrimeApiUsers", "throttled", seconds=DAY)
            results = await asyncio.gather(
                *(client.api_users.list() for _ in range(5)), return_exceptions=True
            )
            assert all(isinstance(r, RateLimitError) for r in results)
            for error in results:
                assert isinstance(error, RateLimitError)
                assert "max_throttle_wait (120 s)" in str(error)
                assert "2023-11-15T22:13:20+00:00" in str(error)  # fake now + one day
                assert error.retry_at == pytest.approx(clock.now + DAY, abs=1)
            assert len(sb.requests) == 1  # one refusal; the waiting calls were not sent
            assert clock.sleeps == []  # nobody slept on it
            shorter = RetryPolicy(max_throttle_wait=DAY * 2)
            sb.faults.clear()
            await client.api_users.list(retry=shorter)  # a caller who accepts the wait
            assert sum(clock.sleeps) >= DAY - 1


def test_auto_pacing_relaxes_after_a_quiet_period() -> None:
    clock = FakeClock()
    counter = CallCounter(None, auto=True, clock=clock)
    counter.on_rate_limited(None)
    assert counter.active and counter.limits == TIERS["starter"]
    clock.now += AUTO_RATE_LIMIT_QUIET / 2
    counter.on_rate_limited(None)  # another refusal: the quiet period starts over
    clock.now += AUTO_RATE_LIMIT_QUIET - 1
    assert counter.active
    clock.now += 1
    assert not counter.active and counter.limits is None


def test_an_explicit_tier_never_relaxes() -> None:
    clock = FakeClock()
    counter = CallCounter(TIERS["pro"], auto=False, clock=clock)
    counter.on_rate_limited(None)
    clock.now += AUTO_RATE_LIMIT_QUIET * 10
    assert counter.limits == TIERS["pro"]


async def test_after_one_refusal_auto_paces_then_runs_unpaced_again() -> None:
    clock = FakeClock()
    async with PrimeSandbox(rate_limit=False, clock=clock) as sb:
        client = PrimeClient(
            sb.api_key, sb.api_secret, base_url=sb.url, clock=clock, sleep=clock.sleep
        )
        async with client:
            sb.faults.add("ListPrimeApiUsers", "error", message="EAPI:Rate limit exceeded")
            await client.api_users.list()  # refused once, then paced as the starter tier
            paced = sum(clock.sleeps)
            assert paced > 0
            clock.now += AUTO_RATE_LIMIT_QUIET
            for _ in range(10):
                await client.api_users.list()
            assert sum(clock.sleeps) == paced  # 10 calls, no wait: the server has no limit


async def test_the_last_client_to_close_releases_the_key_settings() -> None:
    async with PrimeSandbox(rate_limit=False) as sb:
        first = PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url)
        second = PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url)
        await first.api_users.list()
        await second.api_users.list()
        other = PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url, nonce_window=5000)
        with pytest.raises(ValidationError, match="nonce_window"):
            await other.api_users.list()  # two open clients really disagree
        await first.close()
        with pytest.raises(ValidationError, match="nonce_window"):
            await other.api_users.list()  # the second one is still open
        await second.close()
        sb.set_nonce_window(sb.api_key, 5000)
        await other.api_users.list()  # released: the new window applies
        await other.close()


@pytest.mark.parametrize("shared", ["process", "file_fleet"])
async def test_a_throttle_recorded_by_another_client_is_bounded_too(
    shared: str, tmp_path: Path
) -> None:
    # The second client only sees the hold in the shared call-counter model (the process's, or
    # a fleet's lock file): it raises without sending instead of sleeping for a day.
    clock = FakeClock()
    key = unique_key()
    fleet = FileLockFleet(tmp_path) if shared == "file_fleet" else None
    until = int(clock.now + DAY)
    transport = ScriptedTransport().queue(kraken_error(f"EService: Throttled: {until}"))
    first, _ = make_client(transport, clock=clock, api_key=key, fleet=fleet)
    second, _ = make_client(transport, clock=clock, api_key=key, fleet=fleet)
    with pytest.raises(RateLimitError, match="max_throttle_wait"):
        await first.api_users.list()
    with pytest.raises(RateLimitError, match="max_throttle_wait") as info:
        await second.api_users.list()
    assert info.value.retry_at == pytest.approx(until, abs=1)
    assert len(transport.requests) == 1 and clock.sleeps == []
    await first.close()
    await second.close()

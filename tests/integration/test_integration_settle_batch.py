"""settle_batch: every eligible leg exactly once, even with lost answers and re-runs."""

from __future__ import annotations

import pytest

from kraken_prime_async import LegOutcome, PrimeClient, ValidationError
from kraken_prime_async.sandbox import PrimeSandbox
from tests.integration._env import sandbox_and_client

pytestmark = pytest.mark.integration

ASSETS = [f"A{i:02d}" for i in range(12)]


async def _batch(sb: PrimeSandbox, client: PrimeClient, *, confirm: bool = True) -> str:
    for index, asset in enumerate(ASSETS):
        sb.add_trade(asset, str(index + 1))
    batch = await client.settlement.create_batch()
    if confirm:
        sb.confirm_batch(batch.id)
    return batch.id


def _processed_settles(sb: PrimeSandbox) -> int:
    return sum(1 for r in sb.calls("SettlePrimeSettlementBatchAsset") if r.processed)


async def test_settles_every_leg_with_progress() -> None:
    async with sandbox_and_client() as (sb, client, _clock):
        batch_id = await _batch(sb, client)
        progress: list[tuple[int, int, str]] = []

        def on_progress(done: int, total: int, outcome: LegOutcome) -> None:
            progress.append((done, total, outcome.result))

        report = await client.settlement.settle_batch(
            batch_id, concurrency=4, on_progress=on_progress
        )
        assert report.complete and len(report.settled) == len(ASSETS)
        assert all(leg.transfer is not None for leg in report.settled)
        assert [p[0] for p in progress] == list(range(1, len(ASSETS) + 1))
        assert {p[1] for p in progress} == {len(ASSETS)}
        assert _processed_settles(sb) == len(ASSETS)


async def test_running_again_settles_nothing_twice() -> None:
    async with sandbox_and_client() as (sb, client, _clock):
        batch_id = await _batch(sb, client)
        await client.settlement.settle_batch(batch_id)
        again = await client.settlement.settle_batch(batch_id)
        assert len(again.skipped) == len(ASSETS) and not again.settled
        assert {leg.reason for leg in again.skipped} == {"already settling"}
        assert _processed_settles(sb) == len(ASSETS)


async def test_lost_answers_are_read_back_and_legs_proven_unsettled_are_settled_again() -> None:
    async with sandbox_and_client() as (sb, client, _clock):
        batch_id = await _batch(sb, client)
        sb.faults.add(
            "SettlePrimeSettlementBatchAsset", "drop_after", times=3
        )  # settled, answer lost
        sb.faults.add("SettlePrimeSettlementBatchAsset", "drop_before", times=2)  # never arrived
        first = await client.settlement.settle_batch(batch_id, concurrency=3)
        assert len(first.unknown) == 0 and len(first.failed) == 0
        assert len(first.settled) == len(ASSETS)
        read_back = [leg for leg in first.settled if leg.reason]
        assert len(read_back) == 3 and all(leg.transfer is not None for leg in read_back)
        assert all("batch shows it started" in (leg.reason or "") for leg in read_back)

        second = await client.settlement.settle_batch(batch_id)
        assert len(second.settled) == 0 and len(second.skipped) == len(ASSETS)
        assert _processed_settles(sb) == len(ASSETS)  # every leg exactly once
        batch = await client.settlement.get_batch(batch_id)
        assert all(leg.status != "unsettled" for leg in batch.legs)


async def test_an_unconfirmed_batch_is_skipped_or_waited_for() -> None:
    async with sandbox_and_client(auto_confirm_after=5.0) as (sb, client, clock):
        batch_id = await _batch(sb, client, confirm=False)
        skipped = await client.settlement.settle_batch(batch_id)
        assert {leg.reason for leg in skipped.legs} == {"batch not confirmed"}
        assert not skipped.confirmed and not skipped.complete
        assert sb.calls("SettlePrimeSettlementBatchAsset") == []

        report = await client.settlement.settle_batch(
            batch_id, wait_for_confirmation=30, poll_interval=2
        )
        assert report.complete and len(report.settled) == len(ASSETS)
        assert sum(clock.sleeps) >= 5  # polled on the fake clock until the sandbox confirmed


async def test_zero_legs_are_skipped_and_refusals_are_reported() -> None:
    async with sandbox_and_client() as (sb, client, _clock):
        sb.add_trade("BTC", "1")
        sb.add_trade("ETH", "2")
        sb.add_trade("ETH", "-2")
        batch = await client.settlement.create_batch()
        sb.confirm_batch(batch.id)
        sb.faults.add(
            "SettlePrimeSettlementBatchAsset", "error", message="EGeneral:Permission denied"
        )
        report = await client.settlement.settle_batch(batch.id)
        outcomes = {leg.asset: leg for leg in report.legs}
        assert outcomes["ETH"].result == "skipped" and "not eligible" in (
            outcomes["ETH"].reason or ""
        )
        assert (
            outcomes["BTC"].result == "failed" and outcomes["BTC"].reason == "PermissionDeniedError"
        )
        assert not report.complete


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": True}, "concurrency"),
        ({"wait_for_confirmation": -1}, "wait_for_confirmation"),
        ({"poll_interval": 0}, "poll_interval"),
    ],
)
async def test_bad_settings_are_refused_before_anything_is_sent(
    kwargs: dict[str, object], field: str
) -> None:
    async with sandbox_and_client() as (sb, client, _clock):
        with pytest.raises(ValidationError) as info:
            await client.settlement.settle_batch("B_1", **kwargs)  # type: ignore[arg-type]
        assert info.value.field == field
        assert sb.requests == []

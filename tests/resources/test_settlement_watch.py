"""``client.settlement.watch``: typed change events from one shared poller, against the sandbox.

The client's ``sleep`` waits for the test's tick, so each poll happens when the test says.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from kraken_prime_async import (
    BatchConfirmed,
    BatchCreated,
    BatchSettled,
    InvalidArgumentsError,
    LegSettled,
    LegSettling,
    PrimeClient,
    SettlementEvent,
    TransferStatus,
    ValidationError,
)
from kraken_prime_async.sandbox import PrimeSandbox

pytestmark = pytest.mark.integration

GET = "GetPrimeSettlementBatch"


class Ticks:
    """A ``sleep`` that returns when the test ticks."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[None] = asyncio.Queue()

    async def sleep(self, seconds: float) -> None:
        await self.queue.get()

    def tick(self) -> None:
        self.queue.put_nowait(None)


@asynccontextmanager
async def watched() -> AsyncIterator[tuple[PrimeSandbox, PrimeClient, Ticks]]:
    ticks = Ticks()
    async with PrimeSandbox(rate_limit=False) as sb:
        client = PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url, sleep=ticks.sleep)
        async with client:
            yield sb, client, ticks


async def _polls(sb: PrimeSandbox, operation: str, count: int) -> None:
    while len(sb.calls(operation)) < count:  # noqa: ASYNC110 - the sandbox's log
        await asyncio.sleep(0.005)


async def test_one_batch_from_created_to_settled_shared_by_two_listeners() -> None:
    async with watched() as (sb, client, ticks):
        sb.add_trade("BTC", "1")
        sb.add_trade("ETH", "-2")
        batch = await client.settlement.create_batch()
        heard: list[list[SettlementEvent]] = [[], []]

        async def listen(into: list[SettlementEvent]) -> None:
            async for event in client.settlement.watch(batch.id, interval=1):
                into.append(event)

        listeners = [asyncio.ensure_future(listen(into)) for into in heard]
        await _polls(sb, GET, 1)
        sb.confirm_batch(batch.id)
        ticks.tick()
        await _polls(sb, GET, 2)
        await client.settlement.settle_asset(batch.id, "BTC")
        ticks.tick()
        await _polls(sb, GET, 3)
        await client.settlement.settle_asset(batch.id, "ETH")
        sb.complete_transfers(batch.id)
        ticks.tick()
        await asyncio.wait_for(asyncio.gather(*listeners), 10)
        assert len(sb.calls(GET)) == 4  # one read per poll for both listeners
    first, second = heard
    assert first == second
    names = [(type(e).__name__, getattr(e, "asset", None)) for e in first]
    assert names == [
        ("BatchCreated", None),
        ("BatchConfirmed", None),
        ("LegSettling", "BTC"),
        ("TransferStatus", "BTC"),
        ("TransferStatus", "BTC"),
        ("LegSettled", "BTC"),
        ("LegSettling", "ETH"),
        ("TransferStatus", "ETH"),
        ("LegSettled", "ETH"),
        ("BatchSettled", None),
    ]
    assert isinstance(first[0], BatchCreated) and first[0].name == "batch_created"
    assert isinstance(first[1], BatchConfirmed) and isinstance(first[-1], BatchSettled)
    assert all(e.batch_id == batch.id for e in first)
    assert isinstance(first[2], LegSettling) and isinstance(first[5], LegSettled)
    assert isinstance(first[3], TransferStatus) and first[3].transfer_id


async def test_every_active_batch_and_a_late_listener() -> None:
    async with watched() as (sb, client, ticks):
        stream = client.settlement.watch(interval=1)
        sb.add_trade("BTC", "1")
        batch = await client.settlement.create_batch()
        first = await asyncio.wait_for(stream.__anext__(), 5)
        assert isinstance(first, BatchCreated) and first.batch_id == batch.id
        late = client.settlement.watch(interval=1)
        assert isinstance(await asyncio.wait_for(late.__anext__(), 5), BatchCreated)
        sb.confirm_batch(batch.id)
        ticks.tick()
        assert isinstance(await asyncio.wait_for(stream.__anext__(), 5), BatchConfirmed)
        assert isinstance(await asyncio.wait_for(late.__anext__(), 5), BatchConfirmed)
        await late.aclose()
        await stream.aclose()
        # The create's read before writing, then one read per poll for both listeners.
        assert len(sb.calls("ListPrimeSettlementBatches")) == 3


async def test_a_failed_read_ends_the_watch() -> None:
    async with watched() as (_sb, client, _ticks):
        with pytest.raises(ValidationError):
            client.settlement.watch("batch", interval=0)
        with pytest.raises(InvalidArgumentsError):
            async for _event in client.settlement.watch("NOSUCHBATCH0001", interval=1):
                pass

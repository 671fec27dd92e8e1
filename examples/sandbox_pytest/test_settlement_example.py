"""What a settlement job's tests look like on the sandbox: copy, then replace the job."""

import asyncio

import pytest

from kraken_prime_async import FastApiKeyClient, PrimeClient
from kraken_prime_async.sandbox import PrimeSandbox

SETTLE = "SettlePrimeSettlementBatchAsset"


async def settle_everything(client: PrimeClient) -> str:
    """The code under test: snapshot a batch, wait for Kraken to confirm it, settle every leg."""
    batch = await client.settlement.create_batch()
    report = await client.settlement.settle_batch(batch.id, wait_for_confirmation=5.0)
    assert report.complete, report
    return batch.id


@pytest.mark.asyncio  # each async test: strict mode needs it, auto mode ignores it
@pytest.mark.prime_sandbox(auto_confirm_after=0)
async def test_settles_every_leg_once(
    prime_sandbox: PrimeSandbox, prime_client: PrimeClient
) -> None:
    prime_sandbox.add_trade("BTC", "1.5")
    prime_sandbox.add_trade("ETH", "-3")
    batch_id = await settle_everything(prime_client)
    assert len(prime_sandbox.calls(SETTLE)) == 2
    prime_sandbox.complete_transfers(batch_id)
    assert prime_sandbox.batch(batch_id)["attributes"]["status"] == "settled"


@pytest.mark.asyncio
@pytest.mark.prime_sandbox(auto_confirm_after=0)
async def test_survives_a_lost_answer_and_an_outage(
    prime_sandbox: PrimeSandbox, prime_client: PrimeClient
) -> None:
    prime_sandbox.add_trade("BTC", "1.5")
    prime_sandbox.add_trade("ETH", "-3")
    prime_sandbox.faults.drop_after(SETTLE)  # settled, but the answer never arrives
    prime_sandbox.faults.error(SETTLE, "EService:Unavailable")  # Kraken is briefly down
    await settle_everything(prime_client)
    assert [r.changed for r in prime_sandbox.calls(SETTLE)].count(True) == 2  # each leg once


@pytest.mark.asyncio
async def test_concurrent_calls_within_the_nonce_window(
    prime_sandbox: PrimeSandbox, prime_client: PrimeClient
) -> None:
    await asyncio.gather(*(prime_client.api_users.list() for _ in range(10)))
    assert all(record.ok for record in prime_sandbox.requests)


@pytest.mark.asyncio
async def test_fast_api_key_lifecycle(fast_api_client: FastApiKeyClient) -> None:
    await fast_api_client.fast_api_keys.create("desk-bot")
    await fast_api_client.fast_api_keys.delete("desk-bot")
    assert await fast_api_client.fast_api_keys.list() == []

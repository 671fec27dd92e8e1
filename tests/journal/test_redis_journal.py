"""``RedisJournal``: the same journal shared by the hosts of a fleet.

In one process: idempotency keys, claims, pending writes and the export through Redis. Then two
worker processes on one key (a Redis fleet and a Redis journal) settle one batch at once; one is
killed with SIGKILL mid-run: the other finishes, settling the dead one's in-flight legs behind
their fences, and a rerun finds nothing left, every leg settled exactly once.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from kraken_prime_async import JournalError, PrimeClient, RedisJournal, ValidationError
from kraken_prime_async._journal.chain import verify
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FakeClock

from ..cli._support import ThreadedSandbox, run_cli
from ..integration._lost_key import account, lose_a_key_create, pending
from ..keys.fleet._redis_server import RedisServer, redis_server
from ._kill import Workers
from .test_kill_settle_batch import ASSETS, SETTLE

pytestmark = pytest.mark.integration

TRIALS = int(os.environ.get("JOURNAL_TRIALS", "2"))


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


async def test_idempotency_and_export_through_redis(redis: RedisServer) -> None:
    clock = FakeClock()
    journal = RedisJournal(redis.url, namespace="t-idem")
    async with PrimeSandbox(rate_limit=False, clock=clock) as sb:
        client = PrimeClient(
            sb.api_key,
            sb.api_secret,
            base_url=sb.url,
            sleep=clock.sleep,
            clock=clock,
            journal=journal,
            sole_writer=True,
        )
        async with client:
            first = await client.api_users.create("Desk R", "Trader", idempotency_key="r1")
            again = await client.api_users.create("Desk R", "Trader", idempotency_key="r1")
            with pytest.raises(ValidationError):
                await client.api_users.create("Desk S", "Trader", idempotency_key="r1")
            lines = [line async for line in client.journal.export()]
            assert await client.journal.resolve_pending() == ()
    await journal.close()
    assert again == first and len(sb.calls("CreatePrimeApiUser")) == 1
    assert ['"kind":"intent"' in lines[0], '"kind":"sent"' in lines[1]] == [True, True]
    assert '"status":"applied"' in lines[2] and len(lines) == 3


async def test_an_unreachable_redis_sends_nothing() -> None:
    journal = RedisJournal("redis://127.0.0.1:1/0")
    async with PrimeSandbox(rate_limit=False) as sb:
        client = PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url, journal=journal)
        async with client:
            with pytest.raises(JournalError) as caught:
                await client.settlement.create_batch()
    await journal.close()
    assert "127.0.0.1:1" in str(caught.value)
    assert sb.calls("CreatePrimeSettlementBatch") == []


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(TRIALS))
def test_two_processes_one_killed(redis: RedisServer, trial: int) -> None:
    rng = random.Random(4000 + trial)
    window = 5000 if trial % 2 == 0 else 0
    with ExitStack() as stack:
        served = stack.enter_context(ThreadedSandbox(nonce_window=window).running())
        sb = served.sandbox
        workers = Workers(served, redis=redis.url, window=window)
        for index, asset in enumerate(ASSETS):
            served.sync(lambda a=asset, i=index: sb.add_trade(a, str(i + 1)))  # type: ignore[misc]
        batch_id = workers.run(op="create_batch", idem=f"fleet-batch-{trial}")["id"]
        served.sync(lambda: sb.confirm_batch(batch_id))
        delay = rng.uniform(1.0, 2.0)
        served.sync(lambda: sb.faults.add(SETTLE, "delay_before", times=3, seconds=delay))
        call = {"op": "settle_batch", "batch_id": batch_id, "concurrency": 2}
        survivor = workers.start(**call)
        workers.kill_while_sending(rng, SETTLE, within=delay, **call)
        out, err = survivor.communicate(timeout=120)
        assert survivor.returncode == 0, err[-3000:]
        time.sleep(delay + 0.2)
        rerun = workers.run(**call)
        assert rerun == {"complete": True, "settled": 0, "failed": [], "unknown": 0}
        assert '"failed": []' in out and '"complete": true' in out, out
        for asset in ASSETS:
            assert len(workers.processed(SETTLE, asset=asset)) == 1, asset
        refusals = [e for r in sb.calls(SETTLE) for e in r.errors]
        assert not [e for e in refusals if "already settl" in e], refusals


async def test_a_write_in_flight_keeps_its_lease(redis: RedisServer) -> None:
    import redis as redis_client

    journal = RedisJournal(redis.url, namespace="t-lease", lease=0.3)
    async with PrimeSandbox(rate_limit=False) as sb:
        sb.faults.add("CreatePrimeApiUser", "delay_before", seconds=1.0)
        client = PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url, journal=journal)
        async with client:
            writing = asyncio.ensure_future(client.api_users.create("Slow", "Trader"))
            await asyncio.sleep(0.7)  # more than twice the lease
            lease = f"t-lease:owner:{client.journal.owner.token}"
            checker = redis_client.asyncio.Redis.from_url(redis.url)
            assert await checker.exists(lease)
            await writing
            await checker.aclose()
    await journal.close()


async def test_the_export_command_reads_a_redis_journal(redis: RedisServer) -> None:
    journal = RedisJournal(redis.url, namespace="t-cli")
    async with PrimeSandbox(rate_limit=False) as sb:
        client = PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url, journal=journal)
        async with client:
            await client.api_users.create("Desk X", "Trader", idempotency_key="x")
            lines = [line async for line in client.journal.export()]
    await journal.close()
    exported = run_cli("journal", "export", "--redis", redis.url, "--namespace", "t-cli")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == "".join(lines)


async def test_a_lost_creates_candidates_round_trip_through_redis(redis: RedisServer) -> None:
    async with account() as acct:
        user_id = acct.sandbox.add_api_user("Bot", "Viewer")
        journal = RedisJournal(redis.url, namespace="t-candidates")
        client, transport = acct.client(journal)
        async with client:
            lost = await lose_a_key_create(acct.sandbox, client, transport, user_id)
        other = RedisJournal(redis.url, namespace="t-candidates")  # what another host reads
        again, _ = acct.client(other)
        async with again:
            (write,) = await pending(again.journal)
            report = await again.api_user_keys.audit()
            lines = [line async for line in again.journal.export()]
        await journal.close()
        await other.close()
    assert write.candidates == lost.candidates
    found = {f.key_id for f in report.findings if f.code == "unattributed_key"}
    assert found == set(lost.candidates)
    assert '"candidates":[' in lines[-1] and verify(x.encode() for x in lines)[1] is None

"""Every sandbox fault through the real client: what is retried, what becomes OutcomeUnknownError,
and that a write never takes effect twice."""

from __future__ import annotations

import pytest

from kraken_prime_async import (
    APITimeoutError,
    DeadlineElapsedError,
    InternalServerError,
    InvalidNonceError,
    LocalNonceSource,
    PrimeClient,
    RateLimitError,
    ResponseValidationError,
    RetryPolicy,
    ServiceUnavailableError,
    TemporaryLockoutError,
)
from kraken_prime_async._constants import DEFAULT_RATE_LIMIT_BACKOFF
from kraken_prime_async.sandbox import FaultKind, Tier
from tests.integration._env import sandbox_and_client

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("http_500", {}),
        ("http_502_html", {}),
        ("http_503_html", {}),
        ("drop_before", {}),
        ("drop_after", {}),
        ("malformed_json", {}),
        ("error", {"message": "EService:Unavailable"}),
        ("error", {"message": "EService:Busy"}),
        ("error", {"message": "EService:Deadline elapsed"}),
        ("error", {"message": "EAPI:Rate limit exceeded"}),
        ("throttled", {"seconds": 5}),
    ],
)
async def test_reads_recover_from_every_transient_fault(
    kind: FaultKind, params: dict[str, object]
) -> None:
    async with sandbox_and_client() as (sb, client, clock):
        sb.faults.add("ListPrimeApiUsers", kind, **params)  # type: ignore[arg-type]
        assert await client.api_users.list() == []
        assert client.stats.attempts == 2 and client.stats.retries == 1
        assert sum(clock.sleeps) > 0  # backoff or pacing, on the fake clock
        assert [r.fault for r in sb.calls("ListPrimeApiUsers")] == [kind, None]


async def test_a_read_timeout_is_retried() -> None:
    async with sandbox_and_client(client_kwargs={"timeout": 0.05}) as (sb, client, _clock):
        sb.faults.add("ListPrimeApiUsers", "delay", seconds=0.3)
        assert await client.api_users.list() == []
        assert client.stats.attempts == 2


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("drop_after", {}),
        ("malformed_json", {}),
        ("error", {"message": "EService:Deadline elapsed", "processed": True}),
        ("http_500", {"processed": True}),
        ("http_502_html", {"processed": True}),
    ],
)
async def test_a_settle_whose_answer_is_lost_is_read_back_never_sent_twice(
    kind: FaultKind, params: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    async with sandbox_and_client() as (sb, client, _clock):
        sb.add_trade("BTC", "2")
        batch = await client.settlement.create_batch()
        sb.confirm_batch(batch.id)
        sb.faults.add("SettlePrimeSettlementBatchAsset", kind, **params)  # type: ignore[arg-type]
        transfer = await client.settlement.settle_asset(batch.id, "BTC")
        settles = sb.calls("SettlePrimeSettlementBatchAsset")
        assert len(settles) == 1 and settles[0].processed  # it did happen, exactly once
        leg = (await client.settlement.get_batch(batch.id)).leg("BTC")
        assert leg is not None and leg.started and leg.latest_spot_transfer is not None
        assert transfer.id == str(leg.latest_spot_transfer["id"])
        assert transfer.attributes.transfer_asset == "BTC"
        assert any("answer lost" in r.getMessage() for r in caplog.records)


async def test_a_settle_that_never_arrived_is_sent_again_after_the_fence() -> None:
    async with sandbox_and_client() as (sb, client, _clock):
        sb.add_trade("BTC", "2")
        batch = await client.settlement.create_batch()
        sb.confirm_batch(batch.id)
        sb.faults.add("SettlePrimeSettlementBatchAsset", "drop_before")
        transfer = await client.settlement.settle_asset(batch.id, "BTC")
        settles = sb.calls("SettlePrimeSettlementBatchAsset")
        assert [r.processed for r in settles] == [False, True]  # once, on the second attempt
        leg = (await client.settlement.get_batch(batch.id)).leg("BTC")
        assert leg is not None and leg.latest_spot_transfer is not None
        assert transfer.id == str(leg.latest_spot_transfer["id"])


async def test_a_create_batch_whose_answer_is_lost_finds_the_batch_it_created() -> None:
    async with sandbox_and_client(client_kwargs={"sole_writer": True}) as (sb, client, _clock):
        trade = sb.add_trade("ETH", "3")
        sb.faults.add("CreatePrimeSettlementBatch", "drop_after")
        batch = await client.settlement.create_batch()
        assert batch.trade_ids == (trade,)
        assert len(sb.calls("CreatePrimeSettlementBatch")) == 1  # not re-sent
        assert [b.id for b in (await client.settlement.list_batches()).data] == [batch.id]


async def test_a_create_batch_that_never_arrived_is_sent_again_after_the_fence() -> None:
    async with sandbox_and_client() as (sb, client, _clock):
        sb.add_trade("ETH", "3")
        sb.faults.add("CreatePrimeSettlementBatch", "drop_before")
        batch = await client.settlement.create_batch("currency")
        assert [r.processed for r in sb.calls("CreatePrimeSettlementBatch")] == [False, True]
        assert [b.id for b in (await client.settlement.list_batches()).data] == [batch.id]


async def test_a_write_timeout_proven_not_applied_without_attempts_left_raises_the_timeout() -> (
    None
):
    # not watched (abandon_hold=0): the read-back's fence decides
    async with sandbox_and_client(client_kwargs={"timeout": 0.05, "abandon_hold": 0}) as (
        sb,
        client,
        _clock,
    ):
        sb.faults.add("CreatePrimeApiUser", "delay", seconds=0.3)
        with pytest.raises(APITimeoutError):
            await client.api_users.create("Desk A", "Trader", retry=RetryPolicy.disabled())
        assert await client.api_users.list() == []  # the late request will be refused


async def test_a_write_timeout_whose_answer_comes_later_returns_that_answer() -> None:
    async with sandbox_and_client(client_kwargs={"timeout": 0.05}) as (sb, client, _clock):
        sb.faults.add("CreatePrimeApiUser", "delay", seconds=0.3)
        user = await client.api_users.create("Desk A", "Trader", retry=RetryPolicy.disabled())
        assert [u.id for u in await client.api_users.list()] == [user.id]
        assert len(sb.calls("CreatePrimeApiUser")) == 1  # watched to its answer, not re-sent
        assert client.stats.resolved_lost_answers == 1 and client.stats.outcome_unknown == 0


async def test_writes_are_retried_when_kraken_certainly_rejected_them() -> None:
    async with sandbox_and_client() as (sb, client, _clock):
        sb.faults.add("CreatePrimeApiUser", "error", message="EService:Unavailable")
        sb.faults.add("CreatePrimeApiUser", "throttled", seconds=2)
        user = await client.api_users.create("Desk A", "Trader")
        assert [u.id for u in await client.api_users.list()] == [user.id]
        assert client.stats.attempts == 1 + 3 + 1  # the read before, the write's 3, the list


@pytest.mark.parametrize(
    ("kind", "params", "exc"),
    [
        ("http_500", {}, InternalServerError),
        ("http_503_html", {}, ServiceUnavailableError),
        ("malformed_json", {}, ResponseValidationError),
        ("error", {"message": "EService:Deadline elapsed"}, DeadlineElapsedError),
    ],
)
async def test_persistent_faults_surface_as_their_class_after_capped_attempts(
    kind: FaultKind, params: dict[str, object], exc: type[Exception]
) -> None:
    async with sandbox_and_client() as (sb, client, _clock):
        sb.faults.add("ListPrimeApiUsers", kind, times=None, **params)  # type: ignore[arg-type]
        with pytest.raises(exc):
            await client.api_users.list(retry=RetryPolicy(max_attempts=3))
        assert len(sb.calls("ListPrimeApiUsers")) == 3


async def test_invalid_nonces_are_retried_with_fresh_nonces_then_raised() -> None:
    async with sandbox_and_client() as (sb, client, clock):
        await client.api_users.list()  # the key's last nonce is now "now" in ms
        stale = LocalNonceSource(clock=lambda: 1_000_000.0)  # a host whose clock is far behind
        async with PrimeClient(
            sb.api_key, sb.api_secret, base_url=sb.url, nonce_source=stale, sleep=clock.sleep
        ) as behind:
            with pytest.raises(InvalidNonceError):
                await behind.api_users.list()
            assert behind.stats.nonce_rejections == 3  # the first try plus two retries
        nonces = [r.nonce for r in sb.calls("ListPrimeApiUsers")[1:]]
        assert len(set(nonces)) == 3


@pytest.mark.parametrize("tier", ["starter", "intermediate", "pro"])
async def test_after_one_rate_limit_answer_the_client_paces_instead_of_being_refused(
    tier: Tier,
) -> None:
    # rate_limit="auto": no pacing until Kraken complains, then the call-counter model (the
    # fastest tier that explains the refusal from the key's recent calls) makes callers wait.
    # Rejected calls still charge Kraken's counter, so backing off blindly would not recover on
    # the slower tiers.
    async with sandbox_and_client(rate_limit=True, tier=tier) as (sb, client, clock):
        for _ in range(40):
            await client.api_users.list()
        assert client.stats.rate_limit_errors == 1
        assert client.stats.rate_limit_waits >= 1
        assert sum(clock.sleeps) > 0  # waited on the fake clock, which the sandbox shares
        assert [r.errors for r in sb.requests].count(("EAPI:Rate limit exceeded",)) == 1


async def test_a_known_tier_is_paced_from_the_first_call() -> None:
    async with sandbox_and_client(
        rate_limit=True, tier="starter", client_kwargs={"rate_limit": "starter"}
    ) as (sb, client, _clock):
        for _ in range(30):
            await client.api_users.list()
        assert client.stats.rate_limit_errors == 0
        assert all(r.ok for r in sb.requests)


async def test_without_pacing_the_client_only_backs_off() -> None:
    # Without jitter the backoffs are the policy's full steps: with equal jitter a run of short
    # draws could end the call's attempts before the counter had decayed (1 run in ~12).
    async with sandbox_and_client(
        rate_limit=True,
        tier="pro",
        client_kwargs={"rate_limit": None, "retry": RetryPolicy(jitter=False)},
    ) as (_sb, client, clock):
        for _ in range(25):
            await client.api_users.list()
        assert client.stats.rate_limit_errors >= 1
        assert clock.sleeps and all(s >= DEFAULT_RATE_LIMIT_BACKOFF for s in clock.sleeps)


async def test_a_lockout_is_never_retried() -> None:
    async with sandbox_and_client(lockout_after=3) as (sb, client, clock):
        stale = LocalNonceSource(clock=lambda: 1_000_000.0)
        await client.api_users.list()
        async with PrimeClient(
            sb.api_key, sb.api_secret, base_url=sb.url, nonce_source=stale, sleep=clock.sleep
        ) as behind:
            with pytest.raises(InvalidNonceError):
                await behind.api_users.list()
        with pytest.raises(TemporaryLockoutError):
            await client.api_users.list()
        assert client.stats.attempts == 2  # the locked-out call was tried once


async def test_a_throttle_too_far_ahead_is_not_waited_for() -> None:
    async with sandbox_and_client() as (sb, client, clock):
        sb.faults.add("ListPrimeApiUsers", "throttled", seconds=3600)
        with pytest.raises(RateLimitError) as info:
            await client.api_users.list()
        assert info.value.retry_at is not None and clock.sleeps == []

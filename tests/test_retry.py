"""Retry rules: what is retried, how long it waits, what is never re-sent."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest

from kraken_prime_async import RetryPolicy
from kraken_prime_async import errors as e
from kraken_prime_async._retry import RetryBudget, backoff
from kraken_prime_async._signing import decode_secret, verify
from tests._fakes import (
    BATCH,
    FAKE_SECRET,
    USER,
    FakeClock,
    ScriptedTransport,
    html,
    kraken_error,
    listed,
    lost,
    make_client,
    no_batches,
    ok,
    refused,
    timed_out,
)

TRANSFER = {"id": "100", "attributes": {"transfer_status": "pending"}}


@pytest.mark.parametrize(
    "failure",
    [
        html(500, "Internal Server Error"),
        html(502),
        html(503, "Service Unavailable"),
        html(504, "Gateway Timeout"),
        html(429, "Too Many Requests"),
        kraken_error("EGeneral:Internal error", status=500, result=False),
        kraken_error("EService:Unavailable"),
        kraken_error("EService:Busy"),
        kraken_error("EAPI:Rate limit exceeded"),
        kraken_error("EGeneral:Too many requests"),
        kraken_error("EAPI:Invalid nonce"),
        kraken_error("EService:Deadline elapsed"),
        refused(),
        lost(),
        timed_out(),
    ],
    ids=lambda f: getattr(f, "body", str(f))[:40] if not isinstance(f, Exception) else repr(f),
)
async def test_a_read_is_retried_after_transient_failures(
    transport: ScriptedTransport, failure: object
) -> None:
    transport.queue(failure, ok({"data": USER}))  # type: ignore[arg-type]
    client, clock = make_client(transport)
    user = await client.api_users.get("2T0RXL9B8K5D6")
    assert user.id == "2T0RXL9B8K5D6"
    assert len(transport.requests) == 2
    assert client.stats.attempts == 2 and client.stats.retries == 1
    assert clock.sleeps  # every wait went through the injected sleep


async def test_every_attempt_gets_a_fresh_nonce_and_signature(transport: ScriptedTransport) -> None:
    transport.queue(kraken_error("EAPI:Invalid nonce"), html(502), ok({"data": USER}))
    client, _ = make_client(transport)
    await client.api_users.get("2T0RXL9B8K5D6")
    nonces = [r.json["nonce"] for r in transport.requests]
    signatures = [r.headers["API-Sign"] for r in transport.requests]
    assert nonces == sorted(nonces) and len(set(nonces)) == 3
    assert len(set(signatures)) == 3
    key = decode_secret(FAKE_SECRET)
    for request, nonce in zip(transport.requests, nonces, strict=True):
        assert request.body is not None
        assert verify(
            b"/0/private/GetPrimeApiUser", nonce, request.body, key, request.headers["API-Sign"]
        )


@pytest.mark.parametrize(
    ("raw", "cls"),
    [
        ("EAPI:Invalid key", e.AuthenticationError),
        ("EAPI:Invalid signature", e.AuthenticationError),
        ("EGeneral:Permission denied", e.PermissionDeniedError),
        ("EGeneral:Invalid arguments:user_id", e.InvalidArgumentsError),
        ("EGeneral:Temporary lockout", e.TemporaryLockoutError),
        ("EOrder:Something business", e.APIError),
    ],
)
async def test_never_retried(transport: ScriptedTransport, raw: str, cls: type[Exception]) -> None:
    transport.queue(kraken_error(raw))
    client, clock = make_client(transport)
    with pytest.raises(cls) as info:
        await client.api_users.get("2T0RXL9B8K5D6")
    assert type(info.value) is cls
    assert len(transport.requests) == 1 and clock.sleeps == []
    assert client.stats.failures == 1


async def test_invalid_nonce_is_retried_at_most_twice(transport: ScriptedTransport) -> None:
    transport.queue(*[kraken_error("EAPI:Invalid nonce")] * 5)
    client, _ = make_client(transport, retry=RetryPolicy(max_attempts=10))
    with pytest.raises(e.InvalidNonceError):
        await client.api_users.list()
    assert len(transport.requests) == 3
    assert client.stats.nonce_rejections == 3


async def test_attempts_are_capped(transport: ScriptedTransport) -> None:
    transport.queue(*[html(503)] * 10)
    client, clock = make_client(transport, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(e.ServiceUnavailableError):
        await client.api_users.list()
    assert len(transport.requests) == 3 and len(clock.sleeps) == 2


async def test_throttled_waits_until_the_given_time(transport: ScriptedTransport) -> None:
    clock = FakeClock(now=1_700_000_000.0)
    transport.queue(kraken_error("EService: Throttled: 1700000030"), ok({"data": []}))
    client, _ = make_client(transport, clock=clock, retry=RetryPolicy(jitter=False))
    assert await client.api_users.list() == []
    assert [s for s in clock.sleeps if s] == [30.0]
    assert client.stats.rate_limit_waits == 1 and client.stats.rate_limit_wait_seconds == 30.0


async def test_throttled_too_far_in_the_future_raises_instead_of_waiting(
    transport: ScriptedTransport,
) -> None:
    clock = FakeClock(now=1_700_000_000.0)
    transport.queue(kraken_error("EService: Throttled: 1700003600"))
    client, _ = make_client(transport, clock=clock, retry=RetryPolicy(max_throttle_wait=60))
    with pytest.raises(e.RateLimitError) as info:
        await client.api_users.list()
    assert info.value.retry_at == 1700003600.0 and clock.sleeps == []


async def test_rate_limit_backs_off_exponentially_from_one_second(
    transport: ScriptedTransport,
) -> None:
    transport.queue(*[kraken_error("EAPI:Rate limit exceeded")] * 3, ok({"data": []}))
    client, clock = make_client(transport, retry=RetryPolicy(jitter=False), rate_limit=None)
    await client.api_users.list()
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_backoff_has_jitter_within_the_upper_half_and_a_cap() -> None:
    policy = RetryPolicy(initial_backoff=1.0, max_backoff=8.0)
    rng = random.Random(7)
    waits = [backoff(policy, e.InternalServerError("x"), 10, now=0, rng=rng) for _ in range(200)]
    assert all(4.0 <= w <= 8.0 for w in waits) and len(set(waits)) > 100
    assert backoff(policy, e.InvalidNonceError("x"), 1, now=0, rng=rng) == 0.0


@pytest.mark.parametrize(
    "ambiguous",
    [
        lost(),
        timed_out(),
        html(502),
        html(504),
        html(500),
        kraken_error("EService:Deadline elapsed"),
        kraken_error("EGeneral:Internal error"),
        ok(None),  # 200 with an answer that does not fit
    ],
    ids=["dropped", "timeout", "502", "504", "500", "deadline", "internal", "bad-shape"],
)
@pytest.mark.parametrize(
    "call",
    ["create_user", "create_key", "create_batch", "settle_asset"],
)
async def test_a_non_idempotent_write_is_never_resent_after_an_ambiguous_end(
    transport: ScriptedTransport, ambiguous: object, call: str
) -> None:
    # The read before (creates only), the ambiguous write, then a read-back that is refused:
    # the outcome stays unknown and the write is not sent again.
    before = {"create_user": listed(), "create_key": listed(), "create_batch": no_batches()}
    if call in before:
        transport.queue(before[call])
    transport.queue(ambiguous, kraken_error("EGeneral:Permission denied"))  # type: ignore[arg-type]
    client, clock = make_client(transport)
    invoke: Callable[[], Awaitable[object]] = {
        "create_user": lambda: client.api_users.create(name="Desk A", role="Trader"),
        "create_key": lambda: client.api_user_keys.create("2T0RXL9B8K5D6"),
        "create_batch": lambda: client.settlement.create_batch("currency"),
        "settle_asset": lambda: client.settlement.settle_asset("B_Y7T2LPVX", "BTC"),
    }[call]
    with pytest.raises(e.OutcomeUnknownError, match="could not be read back") as info:
        await invoke()
    writes = [r for r in transport.requests if not r.operation.startswith(("List", "Get"))]
    assert len(writes) == 1 and clock.sleeps == []
    assert info.value.attempts == 1
    assert info.value.operation == writes[0].operation
    assert "nonce" not in info.value.arguments
    assert isinstance(info.value.__cause__, e.OutcomeUnknownError)
    assert isinstance(info.value.__cause__.__cause__, e.KrakenPrimeError)
    assert client.stats.outcome_unknown == 1


async def test_outcome_unknown_carries_the_arguments(transport: ScriptedTransport) -> None:
    transport.queue(
        kraken_error("EAPI:Invalid nonce"), lost(), kraken_error("EGeneral:Permission denied")
    )
    client, _ = make_client(transport)
    with pytest.raises(e.OutcomeUnknownError) as info:
        await client.settlement.settle_asset("B_Y7T2LPVX", "BTC")
    assert info.value.arguments == {"batch_id": "B_Y7T2LPVX", "asset": "BTC"}
    assert info.value.attempts == 2  # the rejected first attempt was safe to retry
    assert "SettlePrimeSettlementBatchAsset" in str(info.value)


@pytest.mark.parametrize(
    "rejected",
    [
        refused(),
        kraken_error("EAPI:Invalid nonce"),
        kraken_error("EAPI:Rate limit exceeded"),
        kraken_error("EService:Unavailable"),
        html(429),
    ],
    ids=["refused", "nonce", "rate", "unavailable", "429"],
)
async def test_a_write_is_retried_when_it_certainly_did_not_happen(
    transport: ScriptedTransport, rejected: object
) -> None:
    transport.queue(rejected, ok({"transfer": TRANSFER}))  # type: ignore[arg-type]
    client, _ = make_client(transport)
    transfer = await client.settlement.settle_asset("B_Y7T2LPVX", "BTC")
    assert transfer.id == "100" and len(transport.requests) == 2


async def test_idempotent_writes_are_retried_after_a_lost_answer(
    transport: ScriptedTransport,
) -> None:
    transport.queue(lost(), ok(USER), timed_out(), ok({"deleted": True}))
    client, _ = make_client(transport)
    assert (await client.api_users.update("2T0RXL9B8K5D6", status="Disabled")).id == USER["id"]
    assert await client.api_user_keys.delete("2T0RXL9B8K5D6", "3RM9K4ZTC0C00") is True


async def test_the_retry_budget_makes_an_outage_fail_fast(transport: ScriptedTransport) -> None:
    transport.queue(*[html(503)] * 40)
    client, _ = make_client(transport, retry=RetryPolicy(max_attempts=4))
    outcomes = []
    for _ in range(6):
        with pytest.raises(e.ServiceUnavailableError):
            await client.api_users.list()
        outcomes.append(len(transport.requests))
    # The first call gets its retries; once the budget is spent, calls make one attempt each.
    assert outcomes[0] == 4
    assert outcomes[-1] - outcomes[-2] == 1
    assert outcomes[-1] < 6 * 4


def test_retry_budget_refills_on_success() -> None:
    budget = RetryBudget(max_tokens=10, ratio=0.5)
    for _ in range(5):
        budget.record_failure()
    assert not budget.can_retry()
    budget.record_success()
    assert budget.can_retry()


async def test_retry_disabled(transport: ScriptedTransport) -> None:
    transport.queue(html(503))
    client, _ = make_client(transport, retry=RetryPolicy.disabled())
    with pytest.raises(e.ServiceUnavailableError):
        await client.api_users.list()
    assert len(transport.requests) == 1


async def test_per_call_retry_override(transport: ScriptedTransport) -> None:
    transport.queue(html(503), html(503))
    client, _ = make_client(transport)
    with pytest.raises(e.ServiceUnavailableError):
        await client.api_users.list(retry=RetryPolicy(max_attempts=2))
    assert len(transport.requests) == 2


async def test_concurrent_calls_each_get_their_own_retrier(transport: ScriptedTransport) -> None:
    # Interleaved failures of two calls must not share attempt counts: each call gets 2 attempts.
    transport.queue(html(503), html(503), ok({"data": []}), ok({"data": [USER]}))
    client, _ = make_client(transport, retry=RetryPolicy(max_attempts=2))
    first, second = await asyncio.gather(client.api_users.list(), client.api_users.list())
    assert sorted([len(first), len(second)]) == [0, 1]
    assert len(transport.requests) == 4


def test_retry_policy_validates_itself() -> None:
    with pytest.raises(e.ValidationError) as info:
        RetryPolicy(max_attempts=0)
    assert info.value.field == "max_attempts"
    with pytest.raises(e.ValidationError):
        RetryPolicy(max_backoff=-1)


async def test_batch_results_are_unwrapped(transport: ScriptedTransport) -> None:
    transport.queue(ok({"batch": BATCH}))
    client, _ = make_client(transport)
    batch = await client.settlement.get_batch("B_Y7T2LPVX")
    assert batch.id == "B_Y7T2LPVX"


async def test_nonce_retries_do_not_draw_on_the_outage_budget(
    transport: ScriptedTransport,
) -> None:
    transport.queue(*[html(503)] * 5, kraken_error("EAPI:Invalid nonce"), ok({"data": []}))
    client, _ = make_client(transport, retry=RetryPolicy(max_attempts=5))
    with pytest.raises(e.ServiceUnavailableError):
        await client.api_users.list()
    assert not client._pipeline.budget.can_retry()
    assert await client.api_users.list() == []  # the nonce rejection was still retried


async def test_rate_limit_waits_do_not_draw_on_the_outage_budget(
    transport: ScriptedTransport,
) -> None:
    transport.queue(*[kraken_error("EAPI:Rate limit exceeded")] * 12, ok({"data": []}))
    client, _ = make_client(transport, retry=RetryPolicy(max_attempts=13))
    assert await client.api_users.list() == []
    assert client._pipeline.budget.can_retry()

"""Retries in tenacity's vocabulary and the per-call deadline, against the sandbox over loopback."""

from __future__ import annotations

import asyncio
import time

import pytest
from tenacity import AsyncRetrying, retry_always, stop_after_attempt, stop_never, wait_fixed

from kraken_prime_async import (
    AuthenticationError,
    InternalServerError,
    PrimeClient,
    RateLimitError,
    RetryPolicy,
)
from kraken_prime_async.sandbox import PrimeSandbox
from tests.integration._env import sandbox_and_client

pytestmark = pytest.mark.integration


class VirtualClock:
    """Real time plus every sleep skipped: a server's latency counts, backoff costs nothing."""

    def __init__(self) -> None:
        self.skipped = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return time.time() + self.skipped

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.skipped += seconds
        await asyncio.sleep(0)


async def test_stop_after_attempt_two_on_repeated_5xx() -> None:
    policy = RetryPolicy(stop=stop_after_attempt(2))
    async with sandbox_and_client(client_kwargs={"retry": policy}) as (sb, client, _):
        sb.faults.add("ListPrimeApiUsers", "http_500", times=None)
        with pytest.raises(InternalServerError) as caught:
            await client.api_users.list()
        assert caught.value.status == 500 and caught.value.category == "exchange"
        assert len(sb.calls("ListPrimeApiUsers")) == 2


async def test_retry_always_on_an_authentication_error_sends_once() -> None:
    policy = AsyncRetrying(retry=retry_always, stop=stop_never, wait=wait_fixed(0))
    async with sandbox_and_client() as (sb, _, clock):
        wrong = PrimeClient(
            sb.api_key,
            "c2VjcmV0LWZvci1kb2NzLW9ubHk=",  # a valid base64 secret, not the key's
            base_url=sb.url,
            retry=policy,
            sleep=clock.sleep,
            clock=clock,
        )
        async with wrong:
            with pytest.raises(AuthenticationError) as caught:
                await wrong.api_users.list()
        assert caught.value.category == "auth"
        assert len(sb.calls("ListPrimeApiUsers")) == 1 and clock.sleeps == []


async def test_retry_always_on_a_lost_create_has_exactly_one_effect() -> None:
    policy = RetryPolicy(retry=retry_always, stop=stop_never, wait=wait_fixed(0))
    kwargs = {"retry": policy, "sole_writer": True}  # its only writer: a lost create resolves
    async with sandbox_and_client(client_kwargs=kwargs) as (sb, client, _):
        sb.faults.drop_after("CreatePrimeApiUser")
        user = await client.api_users.create(name="Desk A", role="Trader")
        assert [u.id for u in await client.api_users.list()] == [user.id]
        assert len([r for r in sb.calls("CreatePrimeApiUser") if r.changed]) == 1
        assert len(sb.calls("CreatePrimeApiUser")) == 1


async def test_max_elapsed_against_a_slow_failing_server() -> None:
    """5xx after 0.3 s, ``max_elapsed=1.0``: the call ends within the second (plus a little
    scheduling slack) and no request arrives after the deadline minus an attempt's 0.3 s."""
    clock = VirtualClock()
    policy = RetryPolicy(max_elapsed=1.0, wait=wait_fixed(0.05), stop=stop_never)
    async with PrimeSandbox(rate_limit=False, latency=(0.3, 0.3), clock=clock) as sb:
        sb.faults.add("ListPrimeApiUsers", "http_500", times=None)
        client = PrimeClient(
            sb.api_key, sb.api_secret, base_url=sb.url, retry=policy, sleep=clock.sleep, clock=clock
        )
        async with client:
            started = clock()
            with pytest.raises(InternalServerError):  # the server's answer, as it was
                await client.api_users.list()
            ended = clock()
    assert ended - started <= 1.0 + 0.1
    answered = [r.timestamp - started for r in sb.calls("ListPrimeApiUsers")]
    assert len(answered) >= 2  # it did retry
    # Each request is logged as it is answered, 0.3 s after it arrived.
    assert all(at - 0.3 <= 1.0 - 0.3 + 0.05 for at in answered), answered


async def test_a_throttled_answer_past_the_deadline_raises_at_once() -> None:
    policy = RetryPolicy(max_elapsed=1.0)
    async with sandbox_and_client(client_kwargs={"retry": policy}) as (sb, client, clock):
        sb.faults.add("ListPrimeApiUsers", "throttled", seconds=10)
        with pytest.raises(RateLimitError, match="max_elapsed") as caught:
            await client.api_users.list()
        assert caught.value.retry_at == pytest.approx(clock.now + 10, abs=1)
        assert clock.sleeps == [] and len(sb.calls("ListPrimeApiUsers")) == 1


async def test_a_deadline_never_cancels_a_write_on_the_wire() -> None:
    """The create's answer comes after the deadline: the attempt's timeout (cut to what was
    left) ends it, and the lost answer is read back, not sent again: one user."""
    policy = RetryPolicy(max_elapsed=0.2, retry=retry_always, stop=stop_never)
    async with sandbox_and_client(client_kwargs={"retry": policy}) as (sb, client, _):
        sb.faults.add("CreatePrimeApiUser", "delay_after", seconds=0.5)
        user = await client.api_users.create(name="Desk B", role="Trader")
        assert [u.id for u in await client.api_users.list()] == [user.id]
        assert len(sb.calls("CreatePrimeApiUser")) == 1

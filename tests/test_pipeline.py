"""The call pipeline: call → attempt (inside the key's slot) → send, one retry loop per call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kraken_prime_async import RetryBudget, RetryPolicy
from kraken_prime_async import errors as e
from kraken_prime_async._keys.gate import KeyGate, NoGate, Slot
from kraken_prime_async._transports.base import RawResponse
from tests._fakes import ScriptedTransport, html, kraken_error, make_client, ok


async def test_one_attempt_runs_slot_then_send_then_release(
    transport: ScriptedTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []
    enter, leave = Slot.__aenter__, Slot.__aexit__

    async def entering(self: Slot) -> Slot:
        order.append("slot")
        return await enter(self)

    async def leaving(self: Slot, *exc: Any) -> None:
        order.append(f"release {exc[0].__name__ if exc[0] else 'ok'}")
        await leave(self, *exc)

    monkeypatch.setattr(Slot, "__aenter__", entering)
    monkeypatch.setattr(Slot, "__aexit__", leaving)
    real_request = transport.request

    async def request(*args: Any, **kwargs: Any) -> RawResponse:
        order.append("send")
        return await real_request(*args, **kwargs)

    monkeypatch.setattr(transport, "request", request)
    transport.queue(html(503), ok({"data": []}))
    client, clock = make_client(transport)
    assert isinstance(client._pipeline.gate, KeyGate)
    assert await client.api_users.list() == []
    # attempt 1 fails inside its slot, the slot is released before the backoff, attempt 2 runs
    assert order == [
        "slot",
        "send",
        "release ServiceUnavailableError",
        "slot",
        "send",
        "release ok",
    ]
    assert len(clock.sleeps) == 1
    assert client.stats.attempts == 2 and client.stats.retries == 1


async def test_a_call_that_succeeds_at_once_never_asks_the_policy(
    transport: ScriptedTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kraken_prime_async._retry_call as retry_call
    from kraken_prime_async._retry import next_delay

    asked: list[int] = []
    real = next_delay

    def counting(*args: Any, **kwargs: Any) -> float | None:
        asked.append(args[3])  # the attempt number
        return real(*args, **kwargs)

    monkeypatch.setattr(retry_call, "next_delay", counting)
    transport.queue(ok({"data": []}), html(503), html(503), ok({"data": []}))
    client, _ = make_client(transport)
    await client.api_users.list()
    assert asked == []
    await client.api_users.list()
    assert asked == [1, 2]  # one loop, attempts numbered once: no replayed failure


async def test_concurrent_calls_share_no_retry_state(transport: ScriptedTransport) -> None:
    # Each call caps its own nonce retries: two calls, each refused once, both succeed.
    transport.queue(
        kraken_error("EAPI:Invalid nonce"),
        kraken_error("EAPI:Invalid nonce"),
        ok({"data": []}),
        ok({"data": []}),
    )
    client, _ = make_client(transport, retry=RetryPolicy(max_nonce_retries=1))
    assert list(await asyncio.gather(client.api_users.list(), client.api_users.list())) == [
        [],
        [],
    ]
    assert client.stats.nonce_rejections == 2 and client.stats.successes == 2


async def test_nonce_retries_are_capped_per_call(transport: ScriptedTransport) -> None:
    transport.queue(*[kraken_error("EAPI:Invalid nonce")] * 3)
    client, _ = make_client(transport, retry=RetryPolicy(max_nonce_retries=2))
    with pytest.raises(e.InvalidNonceError):
        await client.api_users.list()
    assert len(transport.requests) == 3


async def test_a_policy_budget_is_shared_by_the_clients_given_it(
    transport: ScriptedTransport,
) -> None:
    budget = RetryBudget(max_tokens=4, ratio=0.1)
    policy = RetryPolicy(max_attempts=5, budget=budget, jitter=False)
    transport.queue(html(503), html(503))
    first, _ = make_client(transport, retry=policy)
    with pytest.raises(e.ServiceUnavailableError):
        await first.api_users.list()
    assert budget.tokens == 2 and not budget.can_retry()  # 4 - 2 failures: half gone, no retry
    transport.queue(html(503))
    second, _ = make_client(transport, retry=policy)
    with pytest.raises(e.ServiceUnavailableError):
        await second.api_users.list()  # the shared budget is spent: no retry at all
    assert second.stats.attempts == 1
    assert first._pipeline.budget.tokens == RetryBudget().tokens  # the client's own: untouched
    # A policy's budget is part of it (compared by identity): the same settings drawing on
    # another bucket retry differently.
    assert policy == RetryPolicy(max_attempts=5, jitter=False, budget=budget)
    assert policy != RetryPolicy(max_attempts=5, jitter=False)


async def test_the_bearer_client_has_no_gate(transport: ScriptedTransport) -> None:
    from kraken_prime_async import FastApiKeyClient

    oauth = FastApiKeyClient("tok", "https://x.test", transport=transport)
    assert isinstance(oauth._pipeline.gate, NoGate) and not oauth._pipeline.gate.paced
    await oauth.close()

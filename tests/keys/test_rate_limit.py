"""The client-side call-counter model."""

from __future__ import annotations

import asyncio

import pytest

from kraken_prime_async import PrimeClient, RateLimit, ValidationError
from kraken_prime_async._keys.pacing import TIERS, CallCounter, explaining, resolve
from tests._fakes import (
    FAKE_SECRET,
    FakeClock,
    ScriptedTransport,
    kraken_error,
    make_client,
    ok,
    unique_key,
)


async def test_a_known_tier_lets_a_burst_through_then_paces() -> None:
    clock = FakeClock()
    counter = CallCounter(TIERS["starter"], auto=False, clock=clock)
    waits = [await counter.acquire(1, clock.sleep) for _ in range(20)]
    assert waits[:14] == [0.0] * 14  # 15 max, half a call of headroom
    assert waits[14] == pytest.approx(0.5 / 0.33)  # just the half call over the line
    assert all(w == pytest.approx(1 / 0.33) for w in waits[15:])  # then one decay per call


async def test_auto_paces_nothing_until_kraken_complains() -> None:
    clock = FakeClock()
    counter = CallCounter(None, auto=True, clock=clock)
    assert [await counter.acquire(1, clock.sleep) for _ in range(100)] == [0.0] * 100
    counter.on_rate_limited(None)
    assert counter.limits == TIERS["pro"]  # 100 calls at once: even pro's counter is full
    assert counter.value() == 21  # Kraken counted the refused call too
    waited = await counter.acquire(1, clock.sleep)
    assert waited == pytest.approx((21 + 1 - 19.5) / 1.0)


async def test_auto_takes_the_fastest_tier_that_explains_the_refusal() -> None:
    clock = FakeClock()
    counter = CallCounter(None, auto=True, clock=clock)
    for _ in range(30):  # one call a second: pro's counter stays near 1, intermediate's at 15.5
        await counter.acquire(1, clock.sleep)
        await clock.sleep(1.0)
    counter.on_rate_limited(None)
    assert counter.limits == TIERS["starter"]
    assert explaining([0.0] * 21, 0.0) == "pro"
    assert explaining([float(t) for t in range(25)], 25.0) == "starter"
    assert explaining([], 0.0) == "starter"  # nothing of ours explains it: other clients did


async def test_auto_steps_down_one_tier_on_each_further_refusal_only() -> None:
    clock = FakeClock()
    counter = CallCounter(None, auto=True, clock=clock)
    for _ in range(25):
        await counter.acquire(1, clock.sleep)
    counter.on_rate_limited(None)
    assert counter.limits == TIERS["pro"]
    for _ in range(10):
        await counter.acquire(1, clock.sleep)
    assert counter.limits == TIERS["pro"]  # paced without a refusal: kept
    counter.on_rate_limited(None)
    assert counter.limits == TIERS["intermediate"]
    counter.on_rate_limited(None)
    counter.on_rate_limited(None)
    assert counter.limits == TIERS["starter"]
    await clock.sleep(300.0)
    assert not counter.active  # relaxes as before


async def test_throttled_sets_no_tier() -> None:
    clock = FakeClock(now=1000.0)
    counter = CallCounter(None, auto=True, clock=clock)
    counter.on_rate_limited(1001.0)
    assert counter.limits is None and counter.active
    assert await counter.acquire(1, clock.sleep) == 1.0
    assert not counter.active


async def test_one_throttled_second_costs_about_a_second_then_nothing(
    transport: ScriptedTransport,
) -> None:
    # issue 23: one 1 s Throttled cost 7.6 s, then 0.33 calls/s for 5 minutes
    clock = FakeClock(now=1_700_000_000.0)
    transport.queue(
        kraken_error("EService: Throttled: 1700000001"), *[ok({"data": []}) for _ in range(21)]
    )
    client, _ = make_client(transport, clock=clock)
    await client.api_users.list()
    assert clock.now - 1_700_000_000.0 <= 1.5
    before = clock.now
    for _ in range(20):
        await client.api_users.list()
    assert clock.now - before < 1.0
    await client.close()


async def test_a_call_that_waits_long_for_pacing_logs_one_warning_with_the_fix(
    transport: ScriptedTransport, caplog: pytest.LogCaptureFixture
) -> None:
    transport.queue(kraken_error("EAPI:Rate limit exceeded"), *[ok({"data": []}) for _ in range(3)])
    client, _ = make_client(transport, rate_limit="starter")
    await client.api_users.list()  # refused, then paced: (16 + 1 - 14.5) / 0.33 = 7.6 s
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "ListPrimeApiUsers waited 7.6 s in total" in warnings[0]
    assert "rate_limit='starter' paces the key" in warnings[0] and "rate_limit=None" in warnings[0]
    await client.api_users.list()
    assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 1  # short waits: none
    await client.close()


async def test_throttled_holds_every_call_until_the_timestamp() -> None:
    clock = FakeClock(now=1000.0)
    counter = CallCounter(None, auto=False, clock=clock)
    counter.on_rate_limited(1030.0)
    assert counter.active
    waits = await asyncio.gather(*(counter.acquire(1, clock.sleep) for _ in range(3)))
    assert waits == [30.0, 0.0, 0.0] and clock.now == 1030.0
    assert not counter.active


def test_settings() -> None:
    assert resolve("auto") == (None, True)
    assert resolve(None) == (None, False)
    assert resolve("pro") == (RateLimit(20, 1.0), False)
    custom = RateLimit(10, 0.2)
    assert resolve(custom) == (custom, False)
    for bad in ("fast", 5):
        with pytest.raises(ValidationError) as info:
            resolve(bad)  # type: ignore[arg-type]
        assert info.value.field == "rate_limit"
    with pytest.raises(ValidationError):
        RateLimit(10, 0)
    with pytest.raises(ValidationError):
        PrimeClient("KEY-RL", FAKE_SECRET, rate_limit="turbo")  # type: ignore[arg-type]


async def test_clients_on_one_key_share_the_model(transport: ScriptedTransport) -> None:
    transport.queue(kraken_error("EAPI:Rate limit exceeded"), *[ok({"data": []}) for _ in range(3)])
    key = unique_key()
    first, clock = make_client(transport, api_key=key)
    second, _ = make_client(transport, clock=clock, api_key=key)
    await first.api_users.list()  # refused once, then paced
    await second.api_users.list()  # the second client waits too: the counter is full
    assert second.stats.rate_limit_waits == 1


async def test_rate_limit_none_never_paces(transport: ScriptedTransport) -> None:
    transport.queue(kraken_error("EAPI:Rate limit exceeded"), ok({"data": []}), ok({"data": []}))
    client, _ = make_client(transport, rate_limit=None)
    await client.api_users.list()
    await client.api_users.list()
    assert client.stats.rate_limit_waits == 1  # only the retry's backoff

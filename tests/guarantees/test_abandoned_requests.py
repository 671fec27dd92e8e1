"""No nonce ban after timeouts: a request sent and then abandoned without an answer is never
overtaken by the key's next request while it can still reach Kraken (issue 12, section 1).

The sandbox is slow *before* its nonce check (a ``delay_before`` fault: the request waits on its
way in, then is nonce-checked), the caller gives up after 50 ms, then makes the next call.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from kraken_prime_async import APITimeoutError, PrimeClient, RetryPolicy, ValidationError
from kraken_prime_async._keys.watch import LatencyEstimate
from kraken_prime_async.events import Event, LateAnswer
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FAKE_SECRET, unique_key

pytestmark = pytest.mark.integration

DELAY = 0.3  # the sandbox holds the request this long before its nonce check
GIVE_UP = 0.05  # the caller's patience
ROUNDS = 20
WINDOW_MS = 5000


async def _give_up_then_call(sb: PrimeSandbox, client: PrimeClient, rounds: int) -> None:
    """Each round: a call abandoned after 50 ms (``asyncio.wait_for`` and ``timeout=`` in
    turn) while the sandbox delays it, then the next call."""
    for index in range(rounds):
        sb.faults.add("ListPrimeApiUsers", "delay_before", seconds=DELAY)
        if index % 2 == 0:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.api_users.list(), GIVE_UP)
        else:
            with pytest.raises(APITimeoutError):
                await client.api_users.list(timeout=GIVE_UP, retry=RetryPolicy.disabled())
        await client.api_users.list()
    await asyncio.sleep(DELAY + 0.05)  # let the last abandoned request reach the sandbox


def _refusals(sb: PrimeSandbox) -> tuple[int, bool]:
    errors = [e for r in sb.requests for e in r.errors]
    return errors.count("EAPI:Invalid nonce"), "EGeneral:Temporary lockout" in errors


def _client_tasks() -> list[asyncio.Task[object]]:
    return [
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task()
        and not t.get_coro().__qualname__.startswith("RequestHandler.")  # type: ignore[union-attr]
    ]


def _client(sb: PrimeSandbox, **kwargs: object) -> PrimeClient:
    return PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url, **kwargs)  # type: ignore[arg-type]


async def test_window_zero_the_next_request_waits_for_the_abandoned_one() -> None:
    async with PrimeSandbox(rate_limit=False) as sb, _client(sb, abandon_hold=DELAY + 0.05) as c:
        await _give_up_then_call(sb, c, ROUNDS)
        assert _refusals(sb) == (0, False)
        assert c.stats.abandoned == ROUNDS and c.stats.nonce_rejections == 0
        delayed = [r for r in sb.requests if r.fault == "delay_before"]
        assert len(delayed) == ROUNDS and all(not r.errors for r in delayed)  # every orphan landed


async def test_window_zero_with_the_default_auto_hold() -> None:
    async with PrimeSandbox(rate_limit=False) as sb, _client(sb) as client:
        await _give_up_then_call(sb, client, 2)
        assert _refusals(sb) == (0, False)


async def test_without_a_hold_the_abandoned_request_is_overtaken_and_refused() -> None:
    # The failure this guards against: with the hold off, every orphan lands behind the next
    # request's nonce and Kraken refuses it, unseen by the client.
    async with PrimeSandbox(rate_limit=False) as sb, _client(sb, abandon_hold=0) as client:
        await _give_up_then_call(sb, client, 4)
        assert _refusals(sb)[0] == 4
        assert client.stats.nonce_rejections == 0


async def test_with_a_window_the_window_covers_the_abandoned_request() -> None:
    async with (
        PrimeSandbox(rate_limit=False, nonce_window=WINDOW_MS) as sb,
        _client(sb, nonce_window=WINDOW_MS, abandon_hold=DELAY + 0.05) as client,
    ):
        started = time.monotonic()
        await _give_up_then_call(sb, client, ROUNDS)
        elapsed = time.monotonic() - started
        assert _refusals(sb) == (0, False)
        assert client.stats.abandoned == ROUNDS
        # The next call did not wait for the hold: the window admitted it beside the orphan.
        assert elapsed < ROUNDS * (DELAY + 0.05) / 2


async def test_an_old_abandoned_request_still_holds_a_small_window() -> None:
    # Window 400 ms: new requests may overlap the orphan only while it is younger than 200 ms.
    async with (
        PrimeSandbox(rate_limit=False, nonce_window=400) as sb,
        _client(sb, nonce_window=400, abandon_hold=DELAY + 0.05) as client,
    ):
        sb.faults.add("ListPrimeApiUsers", "delay_before", seconds=DELAY)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.api_users.list(), GIVE_UP)
        await asyncio.sleep(0.25)  # the orphan is now older than half the window
        await client.api_users.list()
        await asyncio.sleep(DELAY)
        assert _refusals(sb) == (0, False)


async def test_a_cancelled_write_is_logged_and_counted_and_its_late_answer_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="kraken_prime_async")
    events: list[Event] = []
    async with (
        PrimeSandbox(rate_limit=False) as sb,
        _client(sb, on_event=events.append) as c,
    ):
        sb.faults.add("CreatePrimeApiUser", "delay_before", seconds=DELAY)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(c.api_users.create("Desk A", "Trader"), GIVE_UP)
        users = await c.api_users.list()  # waits for the orphan's answer, read in the background
        assert [u.name for u in users] == ["Desk A"]
        stats = c.stats
        assert stats.cancelled_writes == 1 and stats.abandoned == 1
        assert stats.abandoned_writes_applied == 1
        first, late = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert "CreatePrimeApiUser" in first and "cancelled after the request was sent" in first
        assert "arrived later: the write took effect" in late and users[0].id in late
        [answer] = [e for e in events if isinstance(e, LateAnswer)]
        assert answer.took_effect and answer.result_id == users[0].id and answer.attempt == 1
        assert sb.api_key not in caplog.text and "Desk A" not in caplog.text  # metadata only
        assert _refusals(sb) == (0, False)


async def test_the_next_request_waits_only_for_the_cancelled_requests_own_answer() -> None:
    # issue 23: a cancelled read after an 8 s answer 60 s earlier froze the key for 30 s; the
    # abandoned request is now watched, and the next one waits for its answer only
    async with PrimeSandbox(rate_limit=False) as sb, _client(sb) as client:
        await client.api_users.list()
        gate = client._gate.parts().local
        gate.latency.observe(8.0)  # the key's history: one slow answer (a minute ago or now)
        sb.faults.add("ListPrimeApiUsers", "delay_before", seconds=DELAY)
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.api_users.list(), GIVE_UP)
        await client.api_users.list()
        waited = time.monotonic() - started
        assert DELAY <= waited < DELAY + 1.5  # its answer, not 2 x the 8 s in the history
        assert _refusals(sb) == (0, False)


async def test_closing_leaves_no_timer_and_a_new_client_inherits_the_hold() -> None:
    async with PrimeSandbox(rate_limit=False) as sb:
        first = _client(sb, abandon_hold=DELAY + 0.05)
        sb.faults.add("ListPrimeApiUsers", "delay_before", seconds=DELAY)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(first.api_users.list(), GIVE_UP)
        gate = first._gate.parts().local
        assert gate.held == 1
        await first.close()
        assert gate.held == 0  # its timer is cancelled: nothing runs for a closed client
        assert _client_tasks() == []  # only the sandbox's handlers (the orphan) are running
        async with _client(sb) as second:
            await second.api_users.list()  # still waits for the orphan: the hold carried over
        await asyncio.sleep(DELAY)
        assert _refusals(sb) == (0, False)


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_auto_hold_rule_when_a_request_cannot_be_watched() -> None:
    clock = Monotonic()
    estimate = LatencyEstimate(clock)
    assert estimate.hold(None) == 2.0  # DEFAULT_ABANDON_HOLD before any answer
    for _ in range(40):
        estimate.observe(1.5)
    assert estimate.hold(None) == 3.0  # 2 x the 95th percentile
    estimate.observe(60.0)
    assert estimate.hold(None) == 3.0  # one slow answer among 41 is no percentile
    assert estimate.hold(0.7) == 0.7  # a fixed hold
    for _ in range(40):
        estimate.observe(60.0)
    assert estimate.hold(None) == 30.0  # ABANDON_HOLD_MAX


def test_one_slow_answer_a_minute_ago_weighs_little() -> None:
    # issue 23: one 8 s answer in the key's history froze it for 30 s (4 x the max of 32)
    clock = Monotonic()
    estimate = LatencyEstimate(clock)
    estimate.observe(8.0)
    clock.now += 60.0
    for _ in range(20):
        estimate.observe(0.05)
    assert estimate.hold(None) == 2.0  # weight 1/4 against 20: the fast answers decide
    clock.now += 240.0
    assert estimate.quantile() == 0.05  # and fewer still, minutes later


@pytest.mark.parametrize("bad", ["fast", -1, float("inf"), float("nan"), True, None])
def test_a_bad_abandon_hold_is_refused(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        PrimeClient(unique_key(), FAKE_SECRET, abandon_hold=bad)  # type: ignore[arg-type]
    assert info.value.field == "abandon_hold"


async def test_closing_the_client_stops_watching_its_abandoned_requests() -> None:
    async with PrimeSandbox(rate_limit=False) as sb:
        client = _client(sb)
        sb.faults.add("ListPrimeApiUsers", "delay_before", seconds=DELAY)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.api_users.list(), GIVE_UP)
        watched = [t.get_coro().__qualname__ for t in _client_tasks()]  # type: ignore[union-attr]
        assert watched == ["AiohttpTransport._exchange"]  # the client reads its answer
        await client.close()
        assert _client_tasks() == []


async def test_without_a_hold_the_exchange_runs_in_the_callers_task() -> None:
    # Nothing would follow an abandoned exchange, so it gets no task of its own (a loop turn
    # each way saved); a cancellation and a deadline still end the call as with one.
    async with PrimeSandbox(rate_limit=False) as sb, _client(sb, abandon_hold=0) as client:
        sb.faults.add("ListPrimeApiUsers", "delay_before", seconds=DELAY)
        call = asyncio.ensure_future(client.api_users.list())
        await asyncio.sleep(GIVE_UP)
        assert [t for t in _client_tasks() if t is not call] == []
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        sb.faults.add("ListPrimeApiUsers", "delay_before", seconds=DELAY)
        with pytest.raises(APITimeoutError) as info:
            await client.api_users.list(timeout=GIVE_UP, retry=RetryPolicy.disabled())
        assert info.value.sent
        assert _client_tasks() == []
        await client.api_users.list()  # the key's next call goes through
        assert client.stats.successes == 1


async def test_with_the_hold_the_exchange_has_a_task_of_its_own() -> None:
    async with PrimeSandbox(rate_limit=False) as sb, _client(sb) as client:
        sb.faults.add("ListPrimeApiUsers", "delay_before", seconds=DELAY)
        call = asyncio.ensure_future(client.api_users.list())
        await asyncio.sleep(GIVE_UP)
        others = [t.get_coro().__qualname__ for t in _client_tasks() if t is not call]  # type: ignore[union-attr]
        assert others == ["AiohttpTransport._exchange"]
        await call
        assert client.stats.successes == 1

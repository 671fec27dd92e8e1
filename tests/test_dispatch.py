"""Per-key dispatch: ordering, the window rule, adaptation, sharing."""

from __future__ import annotations

import asyncio

import pytest

from kraken_prime_async import PrimeClient, ValidationError
from kraken_prime_async._dispatch import KeyDispatcher, shared_dispatcher
from tests._fakes import FAKE_SECRET, ScriptedTransport, make_client, ok, unique_key


async def _hold(dispatcher: KeyDispatcher, order: list[int], peak: list[int], index: int) -> None:
    token = await dispatcher.acquire()
    order.append(index)
    peak.append(dispatcher.in_flight)
    await asyncio.sleep(0)
    dispatcher.release(token, succeeded=True)


async def test_window_zero_means_one_at_a_time_in_arrival_order() -> None:
    dispatcher = KeyDispatcher(window_seconds=0, max_in_flight=8)
    order: list[int] = []
    peak: list[int] = []
    await asyncio.gather(*(_hold(dispatcher, order, peak, i) for i in range(50)))
    assert order == list(range(50))
    assert max(peak) == 1 and dispatcher.cap == 1


async def test_a_window_allows_overlap_up_to_the_cap() -> None:
    dispatcher = KeyDispatcher(window_seconds=10, max_in_flight=4)
    order: list[int] = []
    peak: list[int] = []
    await asyncio.gather(*(_hold(dispatcher, order, peak, i) for i in range(20)))
    assert order == list(range(20)) and max(peak) == 4


async def test_an_old_request_holds_back_new_ones() -> None:
    now = [0.0]
    dispatcher = KeyDispatcher(window_seconds=2, max_in_flight=4, monotonic=lambda: now[0])
    old = await dispatcher.acquire()
    now[0] = 0.5
    young = await dispatcher.acquire()  # within half the window of the oldest
    now[0] = 1.5  # the oldest is now older than half the window
    waiting = asyncio.ensure_future(dispatcher.acquire())
    await asyncio.sleep(0)
    assert not waiting.done()
    dispatcher.release(young)
    await asyncio.sleep(0)
    assert not waiting.done()  # still behind the old one
    dispatcher.release(old)
    dispatcher.release(await waiting)


async def test_the_cap_halves_on_invalid_nonces_and_grows_back() -> None:
    dispatcher = KeyDispatcher(window_seconds=10, max_in_flight=8)
    dispatcher.release(await dispatcher.acquire(), nonce_rejected=True)
    dispatcher.release(await dispatcher.acquire(), nonce_rejected=True)
    assert dispatcher.cap == 2
    for _ in range(40):
        dispatcher.release(await dispatcher.acquire(), succeeded=True)
    assert dispatcher.cap == 8


async def test_a_cancelled_waiter_does_not_block_the_queue() -> None:
    dispatcher = KeyDispatcher(window_seconds=0, max_in_flight=1)
    first = await dispatcher.acquire()
    cancelled = asyncio.ensure_future(dispatcher.acquire())
    third = asyncio.ensure_future(dispatcher.acquire())
    await asyncio.sleep(0)
    cancelled.cancel()
    dispatcher.release(first)
    token = await asyncio.wait_for(third, 1)
    dispatcher.release(token)
    assert cancelled.cancelled()


async def test_one_dispatcher_per_key_and_loop() -> None:
    key = unique_key()
    first = shared_dispatcher(key, window_seconds=0, max_in_flight=8)
    assert shared_dispatcher(key, window_seconds=0, max_in_flight=8) is first
    assert shared_dispatcher(unique_key(), window_seconds=0, max_in_flight=8) is not first
    with pytest.raises(ValueError, match="nonce_window"):
        shared_dispatcher(key, window_seconds=5, max_in_flight=8)


async def test_two_clients_on_one_key_share_the_order() -> None:
    key = unique_key()
    transport = ScriptedTransport().queue(*[ok({"data": []}) for _ in range(40)])
    a, _ = make_client(transport, api_key=key)
    b, _ = make_client(transport, api_key=key)
    await asyncio.gather(*(c.api_users.list() for c in (a, b) for _ in range(20)))
    nonces = [r.json["nonce"] for r in transport.requests]
    assert nonces == sorted(nonces)  # sent in nonce order: never overtaken


async def test_a_conflicting_window_on_one_key_is_refused_at_the_call() -> None:
    key = unique_key()
    transport = ScriptedTransport().queue(ok({"data": []}))
    first, _ = make_client(transport, api_key=key)
    await first.api_users.list()
    second, _ = make_client(transport, api_key=key, nonce_window=5000)
    with pytest.raises(ValidationError) as info:
        await second.api_users.list()
    assert info.value.field == "nonce_window"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"nonce_window": -1}, "nonce_window"), ({"max_in_flight": 0}, "max_in_flight")],
)
def test_bad_dispatch_settings(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        PrimeClient(unique_key(), FAKE_SECRET, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field

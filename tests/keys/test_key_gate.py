"""The per-key gate: the in-process gate (ordering, the window rule, adaptation, sharing) and
the slot that composes it with the fleet gate and pacing around one attempt."""

from __future__ import annotations

import asyncio

import pytest

from kraken_prime_async import PrimeClient, ValidationError
from kraken_prime_async._keys.gate import KeyGate
from kraken_prime_async._keys.local import LocalGate, Outcome, outcome_of, shared_local_gate
from kraken_prime_async._secret import Credential, fingerprint
from kraken_prime_async.errors import CoordinationError, InvalidNonceError
from tests._fakes import FAKE_SECRET, ScriptedTransport, make_client, ok, unique_key


async def _hold(gate: LocalGate, order: list[int], peak: list[int], index: int) -> None:
    token = await gate.acquire()
    order.append(index)
    peak.append(gate.in_flight)
    await asyncio.sleep(0)
    gate.release(token, Outcome.SUCCEEDED)


async def test_window_zero_means_one_at_a_time_in_arrival_order() -> None:
    gate = LocalGate(window_seconds=0, max_in_flight=8)
    order: list[int] = []
    peak: list[int] = []
    await asyncio.gather(*(_hold(gate, order, peak, i) for i in range(50)))
    assert order == list(range(50))
    assert max(peak) == 1 and gate.cap == 1


async def test_a_window_allows_overlap_up_to_the_cap() -> None:
    gate = LocalGate(window_seconds=10, max_in_flight=4)
    order: list[int] = []
    peak: list[int] = []
    await asyncio.gather(*(_hold(gate, order, peak, i) for i in range(20)))
    assert order == list(range(20)) and max(peak) == 4


async def test_an_old_request_holds_back_new_ones() -> None:
    now = [0.0]
    gate = LocalGate(window_seconds=2, max_in_flight=4, monotonic=lambda: now[0])
    old = await gate.acquire()
    now[0] = 0.5
    young = await gate.acquire()  # within half the window of the oldest
    now[0] = 1.5  # the oldest is now older than half the window
    waiting = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    assert not waiting.done()
    gate.release(young)
    await asyncio.sleep(0)
    assert not waiting.done()  # still behind the old one
    gate.release(old)
    gate.release(await waiting)


async def test_the_cap_halves_on_invalid_nonces_and_grows_back() -> None:
    gate = LocalGate(window_seconds=10, max_in_flight=8)
    gate.release(await gate.acquire(), Outcome.NONCE_REJECTED)
    gate.release(await gate.acquire(), Outcome.NONCE_REJECTED)
    assert gate.cap == 2
    for _ in range(40):
        gate.release(await gate.acquire(), Outcome.SUCCEEDED)
    assert gate.cap == 8


async def test_a_cancelled_waiter_does_not_block_the_queue() -> None:
    gate = LocalGate(window_seconds=0, max_in_flight=1)
    first = await gate.acquire()
    cancelled = asyncio.ensure_future(gate.acquire())
    third = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    cancelled.cancel()
    gate.release(first)
    token = await asyncio.wait_for(third, 1)
    gate.release(token)
    assert cancelled.cancelled()


async def test_a_release_hands_the_slot_to_the_first_waiter_only() -> None:
    # One wake per freed slot: the first waiter gets the token in its future; the others stay
    # asleep (nobody is woken to re-check and go back to sleep).
    gate = LocalGate(window_seconds=0, max_in_flight=1)
    first = await gate.acquire()
    waiting = [asyncio.ensure_future(gate.acquire()) for _ in range(5)]
    await asyncio.sleep(0)
    queued = list(gate._waiters)
    gate.release(first, Outcome.SUCCEEDED)
    assert [w.done() for w in queued] == [True, False, False, False, False]
    assert gate.in_flight == 1  # granted at release time, before the waiter runs
    token = await waiting[0]
    assert queued[0].result() == token
    for nxt in waiting[1:]:
        gate.release(token, Outcome.SUCCEEDED)
        token = await nxt
    gate.release(token, Outcome.SUCCEEDED)
    assert gate.in_flight == 0 and not gate._waiters


async def test_a_waiter_cancelled_after_its_grant_passes_the_slot_on() -> None:
    gate = LocalGate(window_seconds=0, max_in_flight=1)
    first = await gate.acquire()
    granted = asyncio.ensure_future(gate.acquire())
    after = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    gate.release(first)  # the slot is handed to ``granted``...
    granted.cancel()  # ...which is cancelled before it runs
    token = await asyncio.wait_for(after, 1)
    assert granted.cancelled() and gate.in_flight == 1
    gate.release(token)
    assert gate.in_flight == 0


async def test_one_local_gate_per_key_and_loop() -> None:
    key = unique_key()
    first = shared_local_gate(key, window_seconds=0, max_in_flight=8)
    assert shared_local_gate(key, window_seconds=0, max_in_flight=8) is first
    assert shared_local_gate(unique_key(), window_seconds=0, max_in_flight=8) is not first
    with pytest.raises(ValueError, match="nonce_window"):
        shared_local_gate(key, window_seconds=5, max_in_flight=8)


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
def test_bad_gate_settings(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        PrimeClient(unique_key(), FAKE_SECRET, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def _key_gate(window_seconds: float = 10.0) -> KeyGate:
    async def no_sleep(seconds: float) -> None:
        return None

    key = unique_key()
    return KeyGate(
        Credential(key),
        ref=fingerprint(key, 32),
        window_seconds=window_seconds,
        max_in_flight=8,
        rate_limit=None,
        fleet=None,
        clock=lambda: 0.0,
        sleep=no_sleep,
    )


async def test_a_slot_releases_with_its_outcome() -> None:
    gate = _key_gate()
    local = gate.parts().local
    async with gate.slot(1.0, 5.0):
        assert local.in_flight == 1
    assert local.in_flight == 0 and local.cap == 8
    with pytest.raises(InvalidNonceError):
        async with gate.slot(1.0, 5.0):
            raise InvalidNonceError("EAPI:Invalid nonce", operation="X")
    assert local.in_flight == 0 and local.cap == 4  # nonce_rejected: the cap halves
    with pytest.raises(RuntimeError):
        async with gate.slot(1.0, 5.0):
            raise RuntimeError("failed")
    assert local.in_flight == 0 and local.cap == 4  # failed: neither grows nor halves
    assert [outcome_of(x) for x in (None, InvalidNonceError("n"), RuntimeError())] == [
        Outcome.SUCCEEDED,
        Outcome.NONCE_REJECTED,
        Outcome.FAILED,
    ]


async def test_a_slot_whose_pacing_fails_frees_the_key() -> None:
    gate = _key_gate(window_seconds=0)
    local = gate.parts().local

    class Broken:
        active = True

        async def acquire(self, cost: float, sleep: object) -> float:
            raise CoordinationError("store unreachable", store="test")

    gate.parts().counter = Broken()  # type: ignore[assignment]
    assert gate.paced
    with pytest.raises(CoordinationError):
        async with gate.slot(1.0, None):
            raise AssertionError("never entered")
    assert local.in_flight == 0  # the next request of the key is not blocked


async def test_gates_are_per_loop() -> None:
    gate = _key_gate()
    parts = gate.parts()
    assert gate.parts() is parts
    loop = asyncio.get_running_loop()
    assert parts.loop is loop and parts.fleet_gate is None

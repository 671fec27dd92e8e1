"""Nonces: strictly increasing per key, under concurrency, threads and clock steps."""

from __future__ import annotations

import asyncio
import threading

import pytest

from kraken_prime_async import LocalNonceSource, NonceSource, PrimeClient, ValidationError
from kraken_prime_async._auth import HmacAuth
from kraken_prime_async._keys.nonces import FloorNonceSource, shared_nonce_source
from kraken_prime_async._secret import fingerprint
from tests._fakes import FAKE_SECRET, FakeClock, ScriptedTransport, make_client, ok, unique_key


async def test_strictly_increasing_under_thousands_of_concurrent_tasks() -> None:
    clock = FakeClock()  # a frozen clock: every nonce after the first comes from last + 1
    source = LocalNonceSource(clock=clock)
    nonces = await asyncio.gather(*(source.next_nonce() for _ in range(5000)))
    assert len(set(nonces)) == 5000
    assert sorted(nonces) == nonces  # handed out in request order


def test_keeps_increasing_when_the_wall_clock_steps_backwards() -> None:
    clock = FakeClock(now=1_700_000_000.0)
    source = LocalNonceSource(clock=clock)
    first = source.next_nonce_sync()
    assert first == 1_700_000_000_000
    clock.now -= 3600  # NTP step back one hour
    second = source.next_nonce_sync()
    assert second == first + 1
    clock.now += 7200
    assert source.next_nonce_sync() == 1_700_003_600_000


def test_strictly_increasing_across_threads() -> None:
    source = LocalNonceSource(clock=lambda: 1_700_000_000.0)
    out: list[list[int]] = [[] for _ in range(8)]

    def work(bucket: list[int]) -> None:
        for _ in range(2000):
            bucket.append(source.next_nonce_sync())

    threads = [threading.Thread(target=work, args=(b,)) for b in out]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [n for bucket in out for n in bucket]
    assert len(set(everything)) == 16000
    assert all(bucket == sorted(bucket) for bucket in out)


@pytest.mark.parametrize(
    ("unit", "expected"),
    [("s", 1_700_000_000), ("ms", 1_700_000_000_500), ("us", 1_700_000_000_500_000)],
)
def test_units(unit: str, expected: int) -> None:
    source = LocalNonceSource(unit, clock=lambda: 1_700_000_000.5)  # type: ignore[arg-type]
    assert source.next_nonce_sync() == expected


def test_start_after_is_a_floor() -> None:
    source = LocalNonceSource(clock=lambda: 1.0, start_after=10**15)
    assert source.next_nonce_sync() == 10**15 + 1


async def test_a_nonce_at_least_a_floor_keeps_the_sequence_increasing() -> None:
    source = LocalNonceSource(clock=lambda: 1_700_000_000.0)
    first = await source.next_nonce()
    assert await source.next_nonce_at_least(first + 5001) == first + 5001
    assert await source.next_nonce() == first + 5002
    assert await source.next_nonce_at_least(first) == first + 5003  # a floor never lowers it
    assert isinstance(source, FloorNonceSource)


def test_rejects_unknown_units() -> None:
    with pytest.raises(ValueError, match="nonce_unit"):
        LocalNonceSource("minutes")  # type: ignore[arg-type]


def _source(client: PrimeClient) -> NonceSource:
    auth = client._pipeline._auth
    assert isinstance(auth, HmacAuth)
    return auth._nonce_source


def test_one_source_per_key_shared_by_every_client() -> None:
    key = unique_key()
    a = PrimeClient(key, FAKE_SECRET)
    b = PrimeClient(key, FAKE_SECRET)
    # the process-wide registry names a key by its SHA-256 reference, never by the key itself
    assert _source(a) is _source(b) is shared_nonce_source(fingerprint(key, 32))
    other = PrimeClient(unique_key(), FAKE_SECRET)
    assert _source(other) is not _source(a)


def test_mixing_units_on_one_key_is_refused() -> None:
    key = unique_key()
    PrimeClient(key, FAKE_SECRET, nonce_unit="ms")
    with pytest.raises(ValidationError) as info:
        PrimeClient(key, FAKE_SECRET, nonce_unit="us")
    assert info.value.field == "nonce_unit"


async def test_two_clients_on_one_key_never_send_the_same_nonce() -> None:
    key = unique_key()
    transport = ScriptedTransport().queue(*[ok({"data": []}) for _ in range(400)])
    first, _ = make_client(transport, api_key=key)
    second, _ = make_client(transport, api_key=key)
    await asyncio.gather(
        *(first.api_users.list() for _ in range(200)),
        *(second.api_users.list() for _ in range(200)),
    )
    nonces = [r.json["nonce"] for r in transport.requests]
    assert len(set(nonces)) == 400


class _CountingSource:
    def __init__(self) -> None:
        self.value = 41

    async def next_nonce(self) -> int:
        self.value += 1
        return self.value


async def test_a_custom_nonce_source_is_used() -> None:
    source = _CountingSource()
    assert isinstance(source, NonceSource)
    transport = ScriptedTransport().queue(ok({"data": []}))
    client, _ = make_client(transport, nonce_source=source)
    await client.api_users.list()
    assert transport.requests[0].json["nonce"] == 42


class _PersistingSource(LocalNonceSource):
    """A subclass overriding the awaited method (say, to persist each nonce): the client must
    await it, not take the in-process shortcut."""

    async def next_nonce(self) -> int:
        return self.next_nonce_sync(floor=7_000_000_000_000)


async def test_a_subclass_of_the_local_source_is_awaited() -> None:
    transport = ScriptedTransport().queue(ok({"data": []}))
    client, _ = make_client(transport, nonce_source=_PersistingSource())
    await client.api_users.list()
    assert transport.requests[0].json["nonce"] >= 7_000_000_000_000


def test_a_nonce_source_without_next_nonce_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        PrimeClient(unique_key(), FAKE_SECRET, nonce_source=object())  # type: ignore[arg-type]
    assert info.value.field == "nonce_source"

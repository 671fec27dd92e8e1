"""Over real loopback HTTP: the bytes on the wire are the bytes signed; aiohttp failures are
classified by whether the request may have been sent."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web

from kraken_prime_async import PrimeClient, RetryPolicy
from kraken_prime_async import errors as e
from kraken_prime_async._signing import decode_secret, verify
from kraken_prime_async.testing import aioresponses
from tests._fakes import FAKE_SECRET, USER, FakeClock, unique_key
from tests._loopback import closed_port, loopback


def _client(base_url: str, **kwargs: object) -> PrimeClient:
    clock = FakeClock()
    return PrimeClient(
        unique_key(),
        FAKE_SECRET,
        base_url=base_url,
        sleep=clock.sleep,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_the_bytes_on_the_wire_are_the_bytes_signed() -> None:
    seen: list[tuple[str, bytes, dict[str, str]]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.path, await request.read(), dict(request.headers)))
        return web.json_response({"error": [], "result": {"data": []}})

    async with loopback(handler) as url, _client(url) as client:
        await client.settlement.list_batches(statuses=["unsettled"], from_=1, limit=5)
        await client.api_users.list()
    key = decode_secret(FAKE_SECRET)
    for path, body, headers in seen:
        nonce = json.loads(body)["nonce"]
        assert body.startswith(b'{"nonce":%d' % nonce)
        assert verify(path.encode(), nonce, body, key, headers["API-Sign"])
        assert headers["Content-Type"] == "application/json"
        assert headers["User-Agent"].startswith("kraken-prime-async/")
        assert "API-Key" in headers
    assert seen[0][1].endswith(b',"statuses":["unsettled"],"from":1,"limit":5}')
    assert seen[1][1] == b'{"nonce":%d}' % json.loads(seen[1][1])["nonce"]


async def test_a_caller_session_is_used_and_never_closed() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"error": [], "result": {"data": []}})

    async with loopback(handler) as url, aiohttp.ClientSession() as session:
        async with _client(url, session=session) as client:
            assert await client.api_users.list() == []
        assert not session.closed


async def test_connection_refused_is_not_sent_so_even_a_write_is_retried() -> None:
    client = _client(f"http://127.0.0.1:{closed_port()}", retry=RetryPolicy(max_attempts=2))
    with pytest.raises(e.APIConnectionError) as info:
        await client.settlement.settle_asset("B1", "BTC")
    await client.close()
    assert info.value.sent is False
    assert client.stats.attempts == 2


async def test_a_dropped_connection_after_sending_makes_a_write_outcome_unknown() -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        if request.path.endswith("/ListPrimeApiUsers"):  # the read before, and the read-back
            error = ["EGeneral:Permission denied"] if calls else []
            return web.json_response({"error": error, "result": {"data": []}})
        calls += 1
        await request.read()
        assert request.transport is not None
        request.transport.close()  # processed, then the answer is lost
        return web.Response()

    async with loopback(handler) as url, _client(url) as client:
        with pytest.raises(e.OutcomeUnknownError, match="could not be read back") as info:
            await client.api_users.create("Desk A", "Trader")
    assert calls == 1
    lost = info.value.__cause__
    assert isinstance(lost, e.OutcomeUnknownError)
    assert isinstance(lost.__cause__, e.APIConnectionError) and lost.__cause__.sent


async def test_a_read_timeout_is_retried_for_reads() -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(0.3)
        return web.json_response({"error": [], "result": {"data": USER}})

    async with loopback(handler) as url, _client(url, timeout=0.1) as client:
        user = await client.api_users.get("2T0RXL9B8K5D6")
    assert user.id == USER["id"] and calls == 2


async def test_per_call_timeout_overrides_the_client_default() -> None:
    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(0.3)
        return web.json_response({"error": [], "result": {"data": []}})

    async with loopback(handler) as url, _client(url, retry=RetryPolicy.disabled()) as client:
        with pytest.raises(e.APITimeoutError) as info:
            await client.api_users.list(timeout=0.05)
    assert info.value.sent is True


@pytest.mark.parametrize(
    ("raised", "cls", "sent"),
    [
        (aiohttp.ConnectionTimeoutError(), e.APITimeoutError, False),
        (aiohttp.SocketTimeoutError(), e.APITimeoutError, True),
        (asyncio.TimeoutError(), e.APITimeoutError, True),
        (aiohttp.ServerDisconnectedError(), e.APIConnectionError, True),
        (aiohttp.ClientPayloadError("truncated"), e.APIConnectionError, True),
        (aiohttp.ClientOSError(104, "reset"), e.APIConnectionError, True),
    ],
)
async def test_aiohttp_failures_are_classified(
    raised: Exception, cls: type[e.APIConnectionError], sent: bool
) -> None:
    client = _client("https://prime.test", retry=RetryPolicy.disabled())
    with aioresponses() as mocked:
        mocked.post("https://prime.test/0/private/ListPrimeApiUsers", exception=raised)
        with pytest.raises(cls) as info:
            await client.api_users.list()
    await client.close()
    assert type(info.value) is cls and info.value.sent is sent

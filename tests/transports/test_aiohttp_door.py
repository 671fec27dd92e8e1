"""The one door to aiohttp's private API (``_transports/aiohttp.sender``): used only on the
aiohttp releases the SDK is tested with, the public ``session.request`` otherwise; either way the
same request goes out and the same answer comes back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from yarl import URL

import kraken_prime_async._transports.aiohttp as door
from kraken_prime_async import AiohttpTransport, RequestTimeout
from kraken_prime_async._transports._deadlines import Deadlines
from kraken_prime_async.errors import APIConnectionError, APITimeoutError
from tests._loopback_raw import serve_on_loopback

_OK = b'{"error":[],"result":true}'


@pytest.fixture
async def hang_up_once() -> AsyncIterator[tuple[str, list[str]]]:
    """A server that reads each request and hangs up without answering the first one."""
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            seen.append(head.split(b" ", 1)[0].decode())
            if len(seen) > 1:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(_OK), _OK))
                await writer.drain()
        finally:
            writer.close()

    async with serve_on_loopback(handle) as url:
        yield url, seen


def test_releases_are_read_from_the_version_string() -> None:
    assert door._release("3.10.11") == (3, 10)
    assert door._release("3.14.0a1") == (3, 14)
    assert door._release("4.0.0") == (4, 0)
    assert door._release("garbage") == (0, 0)
    low, high = door.PRIVATE_API_RELEASES
    assert (low <= door._release(aiohttp.__version__) <= high) == door.PRIVATE_API


@pytest.mark.parametrize("private", [True, False], ids=["private", "public"])
async def test_aiohttp_never_re_sends_by_itself(
    monkeypatch: pytest.MonkeyPatch, hang_up_once: tuple[str, list[str]], private: bool
) -> None:
    """A DELETE whose connection dropped is not sent again by aiohttp: the SDK decides."""
    monkeypatch.setattr(door, "PRIVATE_API", private and door.PRIVATE_API)
    url, seen = hang_up_once
    transport = AiohttpTransport()
    try:
        with pytest.raises(APIConnectionError) as info:
            await transport.request(
                URL(url + "/x"), None, {}, RequestTimeout(5), operation="Op", http_method="DELETE"
            )
    finally:
        await transport.close()
    assert info.value.sent is True and seen == ["DELETE"]


async def test_the_public_api_sends_the_same_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(door, "PRIVATE_API", False)
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            seen.append(head.split(b"\r\n", 1)[0] + b" " + await reader.readexactly(2))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(_OK), _OK))
            await writer.drain()
        finally:
            writer.close()

    transport = AiohttpTransport()
    try:
        async with serve_on_loopback(answer) as url:
            raw = await transport.request(
                URL(url + "/p"), b"{}", {}, RequestTimeout(5), operation="Op"
            )
        assert transport._sender().__name__ == "request"  # the public API
    finally:
        await transport.close()
    assert raw.status == 200 and raw.body == _OK and seen == [b"POST /p HTTP/1.1 {}"]


async def test_the_public_api_keeps_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(door, "PRIVATE_API", False)

    async def never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.Event().wait()
        finally:
            writer.close()

    transport = AiohttpTransport()
    async with serve_on_loopback(never) as url:
        with pytest.raises(APITimeoutError, match="no answer in time"):
            await transport.request(URL(url), b"{}", {}, RequestTimeout(0.1), operation="Op")
    await transport.close()


async def test_only_requests_in_flight_when_the_timer_fires_enter_the_deadline_heap() -> None:
    deadlines = Deadlines(asyncio.get_running_loop())
    task = asyncio.current_task()
    assert task is not None
    for _ in range(1000):  # requests that end before the timer fires cost no heap work
        deadlines.start(task, 30)
        assert deadlines.finish(task) is False
    assert not deadlines._heap and not deadlines._young and not deadlines._pending
    deadlines.start(task, 30)
    deadlines._fire()  # still in flight: it enters the heap, and the timer re-arms for it
    assert len(deadlines._heap) == 1 and deadlines._handle is not None
    assert deadlines.finish(task) is False  # its entry is stale now
    deadlines._fire()  # drops the stale entry and does not re-arm
    assert not deadlines._heap and deadlines._handle is None
    deadlines.close()

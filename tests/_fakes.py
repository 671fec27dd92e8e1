"""Test doubles: a scripted transport, a fake clock, and fake credentials."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import itertools
import json
from collections import deque
from collections.abc import Mapping
from typing import Any

from yarl import URL

from kraken_prime_async import PrimeClient, RawResponse, RequestTimeout, RetryPolicy
from kraken_prime_async.errors import APIConnectionError, APITimeoutError

#: A recognisable fake secret: tests assert it never shows up anywhere.
FAKE_SECRET = base64.b64encode(
    b"FAKE-SECRET-never-print-me-0123456789abcdef0123456789abcdef!!"
).decode()
FAKE_API_KEY = "FAKEPUBLICKEY0KRAKENPRIME"

_keys = itertools.count()


def unique_key() -> str:
    """A fresh API key, so a test gets its own process-wide nonce source."""
    return f"{FAKE_API_KEY}{next(_keys):04d}"


@dataclasses.dataclass(frozen=True)
class Sent:
    """One request the transport saw."""

    url: URL
    body: bytes | None
    headers: Mapping[str, str]
    timeout: RequestTimeout
    operation: str
    http_method: str = "POST"

    @property
    def json(self) -> dict[str, Any]:
        assert self.body is not None, "the request had no body"
        value: dict[str, Any] = json.loads(self.body)
        return value


class ScriptedTransport:
    """Answers each request with the next scripted item (a response or an exception to raise)."""

    def __init__(self) -> None:
        self.script: deque[RawResponse | BaseException] = deque()
        self.requests: list[Sent] = []
        self.closed = False

    def queue(self, *items: RawResponse | BaseException) -> ScriptedTransport:
        self.script.extend(items)
        return self

    async def request(
        self,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: RequestTimeout,
        *,
        operation: str,
        http_method: str = "POST",
    ) -> RawResponse:
        self.requests.append(Sent(url, body, dict(headers), timeout, operation, http_method))
        await asyncio.sleep(0)  # let other tasks run, as a real round trip would
        if not self.script:
            raise AssertionError(f"unexpected request #{len(self.requests)} to {operation}")
        item = self.script.popleft()
        if isinstance(item, BaseException):
            raise item
        return item

    async def close(self) -> None:
        self.closed = True


class FakeClock:
    """Wall clock and sleep that only move when the test says so (sleep advances the clock)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def ok(result: Any, *, warnings: tuple[str, ...] = ()) -> RawResponse:
    return RawResponse(200, json.dumps({"error": list(warnings), "result": result}).encode())


def listed(*items: Any) -> RawResponse:
    """A ``{"data": [...]}`` answer (the read a create makes before sending, among others)."""
    return ok({"data": list(items)})


def no_batches() -> RawResponse:
    """An empty ``ListPrimeSettlementBatches`` page."""
    return ok({"data": [], "pagination": {"has_more": False}})


def kraken_error(*errors: str, status: int = 200, result: bool = True) -> RawResponse:
    payload: dict[str, Any] = {"error": list(errors)}
    if result:
        payload["result"] = {}
    return RawResponse(status, json.dumps(payload).encode())


def html(status: int, text: str = "Bad Gateway") -> RawResponse:
    return RawResponse(status, f"<html><body><h1>{status} {text}</h1></body></html>".encode())


def lost(operation: str = "X") -> APIConnectionError:
    """The connection dropped after the request was sent."""
    return APIConnectionError("dropped", sent=True, operation=operation)


def refused(operation: str = "X") -> APIConnectionError:
    """The connection was refused: nothing was sent."""
    return APIConnectionError("refused", sent=False, operation=operation)


def timed_out(operation: str = "X") -> APITimeoutError:
    return APITimeoutError("timeout", sent=True, operation=operation)


def make_client(
    transport: ScriptedTransport,
    *,
    clock: FakeClock | None = None,
    retry: RetryPolicy | None = None,
    api_key: str | None = None,
    **kwargs: Any,
) -> tuple[PrimeClient, FakeClock]:
    clock = clock or FakeClock()
    client = PrimeClient(
        api_key or unique_key(),
        FAKE_SECRET,
        base_url="https://prime.test",
        transport=transport,
        retry=retry,
        sleep=clock.sleep,
        clock=clock,
        **{"abandon_hold": 0, **kwargs},  # scripted answers never arrive late
    )
    return client, clock


USER = {"id": "2T0RXL9B8K5D6", "name": "Test User", "status": "Enabled", "roles": ["Trader"]}
LEG = {
    "status": "unsettled",
    "asset": "BTC",
    "amount": "1.5",
    "can_settle": True,
    "settled_at": 123,
    "latest_spot_transfer": {},
}
BATCH = {
    "id": "B_Y7T2LPVX",
    "attributes": {
        "status": "unsettled",
        "confirmed": False,
        "created_at": 1700000000000,
        "trade_count": 5,
        "asset_kind": "currency",
        "updated_at": 1700000100000,
    },
    "legs": [LEG],
    "trade_ids": ["3f435d6b-62fd-4f26-b1c5-68ef573d93ef", "7f6a6d75-6470-4f65-8b24-9858f28ede83"],
}

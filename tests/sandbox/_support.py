"""Helpers for the sandbox tests: a fake clock and a tiny signed Prime caller on plain aiohttp."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from kraken_prime_async._signing import sign
from kraken_prime_async.sandbox import PrimeSandbox

START = 1_700_000_000.0


class FakeClock:
    """A settable epoch-seconds clock."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Reply:
    """HTTP status and decoded JSON body of one call."""

    status: int
    body: dict[str, Any]

    @property
    def errors(self) -> list[str]:
        errors: list[str] = self.body.get("error", [])
        return errors

    @property
    def result(self) -> Any:
        assert self.errors == [], self.errors
        return self.body["result"]


class Caller:
    """Signs and sends Prime calls for one key, with its own increasing nonces."""

    _nonces = itertools.count(1_000_000)

    def __init__(
        self, session: aiohttp.ClientSession, url: str, api_key: str, api_secret: str
    ) -> None:
        self.session = session
        self.url = url
        self.api_key = api_key
        self.api_secret = api_secret

    def with_key(self, api_key: str, api_secret: str) -> Caller:
        """Another caller on the same session and server."""
        return Caller(self.session, self.url, api_key, api_secret)

    def next_nonce(self) -> int:
        return next(self._nonces)

    def request(
        self, method: str, *, nonce: int | None = None, secret: str | None = None, **params: Any
    ) -> tuple[str, bytes, dict[str, str]]:
        """URL, body and headers of a signed call (not sent)."""
        nonce = self.next_nonce() if nonce is None else nonce
        path = f"/0/private/{method}"
        body = json.dumps({"nonce": nonce, **params}, separators=(",", ":")).encode()
        headers = {
            "API-Key": self.api_key,
            "API-Sign": sign(path, nonce, body, secret or self.api_secret),
            "Content-Type": "application/json",
        }
        return self.url + path, body, headers

    async def call(
        self, method: str, *, nonce: int | None = None, secret: str | None = None, **params: Any
    ) -> Reply:
        """Send a signed call and decode the JSON answer."""
        url, body, headers = self.request(method, nonce=nonce, secret=secret, **params)
        async with self.session.post(url, data=body, headers=headers) as response:
            return Reply(response.status, await response.json(content_type=None))

    async def ok(self, method: str, **params: Any) -> Any:
        """Send a call that must succeed and return its ``result``."""
        reply = await self.call(method, **params)
        assert reply.status == 200
        return reply.result


@asynccontextmanager
async def running(**options: Any) -> AsyncIterator[tuple[PrimeSandbox, Caller]]:
    """A started sandbox and a caller signing with the owner's key."""
    async with PrimeSandbox(**options) as sb, aiohttp.ClientSession() as session:
        yield sb, Caller(session, sb.url, sb.api_key, sb.api_secret)


async def user_caller(owner: Caller, role: str) -> tuple[Caller, str, str]:
    """Create a user with ``role`` and a key through the API; return (caller, user_id, key_id)."""
    user = await owner.ok("CreatePrimeApiUser", name=f"{role} desk", role=role)
    key = await owner.ok("CreatePrimeApiUserKey", user_id=user["id"])
    return owner.with_key(key["api_key"], key["api_secret"]), user["id"], key["id"]

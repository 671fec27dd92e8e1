"""Start a sandbox and a client on it, with one fake clock for both so nothing waits for real."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from kraken_prime_async import PrimeClient
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FakeClock

#: The abandoned-request hold of these clients: the sandbox on loopback answers within
#: milliseconds unless a test delays it, so a short hold keeps lost-answer tests quick.
TEST_ABANDON_HOLD = 0.2


@asynccontextmanager
async def sandbox_and_client(
    *, client_kwargs: dict[str, Any] | None = None, **sandbox_kwargs: Any
) -> AsyncIterator[tuple[PrimeSandbox, PrimeClient, FakeClock]]:
    clock = FakeClock()
    sandbox_kwargs.setdefault("rate_limit", False)
    sandbox_kwargs.setdefault("clock", clock)
    async with PrimeSandbox(**sandbox_kwargs) as sb:
        client = PrimeClient(
            sb.api_key,
            sb.api_secret,
            base_url=sb.url,
            sleep=clock.sleep,
            clock=clock,
            **{"abandon_hold": TEST_ABANDON_HOLD, **(client_kwargs or {})},
        )
        async with client:
            yield sb, client, clock

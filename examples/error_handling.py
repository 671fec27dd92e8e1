"""Error handling and retries: what each kind of failure looks like and what to do about it.

Usage::

    # against a real account: only reads and refused calls (nothing is created or settled)
    export KRAKEN_PRIME_API_KEY=... KRAKEN_PRIME_API_SECRET=...   # KRAKEN_PRIME_BASE_URL optional
    python examples/error_handling.py

    # without KRAKEN_PRIME_API_KEY: on a local sandbox, which can also inject faults (a 503
    # that is retried, a create whose answer is lost)
    python examples/error_handling.py
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from kraken_prime_async import (
    APIConnectionError,
    AuthenticationError,
    InvalidArgumentsError,
    KrakenPrimeError,
    OutcomeUnknownError,
    PrimeClient,
    RateLimitError,
    RetryPolicy,
    ServiceUnavailableError,
    ValidationError,
)
from kraken_prime_async.sandbox import PrimeSandbox

#: Retry a little more patiently than the default (4 attempts), with shorter backoffs.
POLICY = RetryPolicy(max_attempts=5, initial_backoff=0.2, max_backoff=5.0)


async def refused_calls(client: PrimeClient) -> None:
    """Failures that are final: fix the input or the state, do not retry."""
    try:
        await client.api_users.create(name=" ", role="Trader")
    except ValidationError as exc:  # caught before anything was sent
        print(f"ValidationError on {exc.field!r}: {exc} (nothing was sent)")
    try:
        await client.settlement.get_batch("B_DOES_NOT_EXIST")
    except InvalidArgumentsError as exc:  # Kraken said no; never retried
        print(f"InvalidArgumentsError {exc.code}: {exc.errors}")


async def wrong_secret(base_url: str, api_key: str) -> None:
    """A wrong secret: an AuthenticationError, never retried; check KRAKEN_PRIME_API_SECRET."""
    async with PrimeClient(api_key, "A" * 88, base_url=base_url) as bad:
        try:
            await bad.api_users.list()
        except AuthenticationError as exc:
            print(f"AuthenticationError {exc.errors}: check the key and its secret")


async def retried_and_ambiguous(client: PrimeClient, sandbox: PrimeSandbox) -> None:
    """Faults only a sandbox can inject on demand: a retried 503 and a lost create answer."""
    sandbox.faults.add("ListPrimeApiUsers", "http_503_html", times=2)
    users = await client.api_users.list(retry=POLICY)  # two 503s, then the answer
    print(f"listed {len(users)} users after {client.stats.retries} retries")

    sandbox.faults.add("CreatePrimeApiUser", "drop_after")  # processed, answer lost
    try:
        # The client read the users before sending; after the loss it reads them again behind
        # a nonce fence and returns the user this call created (it is never created twice).
        user = await client.api_users.create(name="Ops desk", role="Viewer")
        print(f"created {user.name} once, although its answer was lost")
    except OutcomeUnknownError as exc:  # only when the state could not be read back
        print(f"OutcomeUnknownError for {exc.operation}{exc.arguments}: check the users")


async def call_with_handling(client: PrimeClient) -> None:
    """The shape of a handler around one call in a service."""
    try:
        batches = await client.settlement.list_batches(limit=5, retry=POLICY)
    except RateLimitError as exc:  # after the retries; set rate_limit= to the key's tier
        print(f"rate limited until {exc.retry_at}")
    except (ServiceUnavailableError, APIConnectionError) as exc:  # after the retries
        print(f"Kraken unreachable ({type(exc).__name__}); try later")
    except KrakenPrimeError as exc:  # anything else the SDK raises
        print(f"{type(exc).__name__}: {exc}")
    else:
        print(f"{len(batches.data)} batches on the first page")


async def main() -> int:
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    if "KRAKEN_PRIME_API_KEY" in os.environ:
        base_url = os.environ.get("KRAKEN_PRIME_BASE_URL", "https://api.kraken.com")
        api_key = os.environ["KRAKEN_PRIME_API_KEY"]
        async with PrimeClient(
            api_key, os.environ["KRAKEN_PRIME_API_SECRET"], base_url=base_url
        ) as client:
            await refused_calls(client)
            await call_with_handling(client)
        await wrong_secret(base_url, api_key)
        return 0
    async with PrimeSandbox(rate_limit=False) as sandbox:
        async with PrimeClient(sandbox.api_key, sandbox.api_secret, base_url=sandbox.url) as client:
            await refused_calls(client)
            await call_with_handling(client)
            await retried_and_ambiguous(client, sandbox)
            print(client.stats)
        await wrong_secret(sandbox.url, sandbox.api_key)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

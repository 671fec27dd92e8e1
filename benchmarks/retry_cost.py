"""What tenacity strategies cost a call that fails once and then succeeds (issue 24's target:
at most 25 us more than the same call under the SDK's own backoff).

A transport that answers at once (no HTTP) alternates an HTTP 503 page and a good answer, so every
call is one failure, one retry, one success; sleep is a no-op, so the backoff costs no time. The
modes run interleaved in rounds; the median per-call CPU of each mode and the median per-round
difference to ``plain`` are printed:

* ``success``: a call that succeeds at once (for scale; the policy is never asked);
* ``plain``: fail, retry, succeed under the default ``RetryPolicy`` (the SDK's backoff);
* ``strategies``: the same under a policy with tenacity's ``stop`` (attempts | before-delay),
  ``wait`` (random exponential) and ``retry`` (``retry_if_retryable``): a fresh
  ``RetryCallState`` per failing call;
* ``logged``: ``strategies`` plus ``before_sleep=before_sleep_log(...)`` to a logger that is off
  (tenacity formats its message whatever the logger's level);
* ``retrier``: the same strategies taken from a tenacity ``AsyncRetrying`` with
  ``RetryPolicy.from_tenacity`` (converted once, when the client is built).

    .venv/bin/python -m benchmarks.retry_cost [--calls 3000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import logging
import statistics
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
from yarl import URL

from kraken_prime_async import LocalNonceSource, PrimeClient, RawResponse, RetryBudget, RetryPolicy

_OK = RawResponse(200, json.dumps({"error": [], "result": {"data": []}}).encode())
_UNAVAILABLE = RawResponse(503, b"<html><body><h1>503 Service Unavailable</h1></body></html>")
_SECRET = base64.b64encode(b"benchmark-secret-" * 4).decode()
MODES = ("success", "plain", "strategies", "logged", "retrier")


class FlakyTransport:
    """Answers at once: with ``flaky``, a 503 page and a good answer in turn."""

    def __init__(self, flaky: bool) -> None:
        self.flaky = flaky
        self.sent = 0

    async def request(
        self,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: aiohttp.ClientTimeout,
        *,
        operation: str,
        http_method: str = "POST",
    ) -> RawResponse:
        self.sent += 1
        return _UNAVAILABLE if self.flaky and self.sent % 2 else _OK

    async def close(self) -> None:
        return None


async def _no_sleep(seconds: float) -> None:
    return None


def _strategies(logged: bool = False) -> dict[str, Any]:
    from tenacity import (
        before_sleep_log,
        stop_after_attempt,
        stop_before_delay,
        wait_random_exponential,
    )

    from kraken_prime_async.retrying import retry_if_retryable

    quiet = logging.getLogger("benchmarks.retry_cost")
    quiet.setLevel(logging.CRITICAL)
    strategies: dict[str, Any] = {
        "stop": stop_after_attempt(4) | stop_before_delay(30),
        "wait": wait_random_exponential(multiplier=0.5, max=60),
        "retry": retry_if_retryable,
    }
    if logged:
        strategies["before_sleep"] = before_sleep_log(quiet, logging.DEBUG)
    return strategies


def _client(mode: str) -> PrimeClient:
    from tenacity import AsyncRetrying

    budget = RetryBudget(max_tokens=1e12)  # every call retries; nothing is throttled
    retry: Any = RetryPolicy(budget=budget)
    if mode in ("strategies", "logged"):
        retry = RetryPolicy(budget=budget, **_strategies(logged=mode == "logged"))
    elif mode == "retrier":
        retry = RetryPolicy.from_tenacity(AsyncRetrying(**_strategies()), budget=budget)
    return PrimeClient(
        "BENCHKEYRETRY" + mode.upper(),
        _SECRET,
        transport=FlakyTransport(flaky=mode != "success"),
        nonce_source=LocalNonceSource("ns"),
        rate_limit=None,
        abandon_hold=0,
        retry=retry,
        sleep=_no_sleep,
    )


async def _sample(client: PrimeClient, calls: int) -> float:
    gc.collect()
    start = time.process_time()
    for _ in range(calls):
        await client.api_users.list()
    return 1e6 * (time.process_time() - start) / calls


async def main(calls: int, rounds: int) -> None:
    clients = {mode: _client(mode) for mode in MODES}
    for client in clients.values():
        await _sample(client, calls // 10)  # warm up (tenacity is imported here)
    samples: dict[str, list[float]] = {mode: [] for mode in MODES}
    extra: dict[str, list[float]] = {mode: [] for mode in MODES}
    for round_ in range(rounds):
        order = MODES[round_ % len(MODES) :] + MODES[: round_ % len(MODES)]
        this_round = {mode: await _sample(clients[mode], calls) for mode in order}
        for mode in MODES:
            samples[mode].append(this_round[mode])
            extra[mode].append(this_round[mode] - this_round["plain"])
    for mode in MODES:
        print(
            f"{mode:>10}: {statistics.median(samples[mode]):7.1f} us/call CPU  "
            f"{statistics.median(extra[mode]):+6.1f} us vs plain"
        )
    for client in clients.values():
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.rounds))

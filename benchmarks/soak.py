"""What watching abandoned requests costs (issue 23): soaks against the embedded sandbox, the
mechanism on (``abandon_hold="auto"``, the default) against off (``abandon_hold=0``), in one run.

``python -m benchmarks.soak`` prints, for each configuration, successful calls per second, the
sandbox's ``EAPI:Invalid nonce`` refusals (an abandoned request overtaken by the key's next one)
and whether the key was locked out, and the ratio of the throughputs:

* **soak**: ``--calls`` reads from ``--tasks`` concurrent tasks on one key, nonce window 0,
  ``rate_limit=None``; before each call, with probability ``--fault-rate``, one fault is queued
  for the next request: ``drop_before``, ``drop_after``, ``http_500`` (answered: retried) or
  ``delay_before`` (the request waits on its way in for between 1 and 2 x the client's timeout:
  the caller times out, its request lands later);
* **one timeout in 20**: sequential reads, every 20th delayed as above;
* **late answer**: one read whose answer takes ``--slow`` s, then 20 fast reads, then a cancelled
  read delayed ``--delay`` s and the next read: how long that read waited beyond the cancelled
  read's answer. (The issue's case has the slow answer a minute earlier; here it is moments
  earlier, which is harder: a watched request's hold does not consult the history at all. The
  decayed estimate used when a request cannot be watched is tested on an injected clock in
  ``tests/guarantees/test_abandoned_requests.py``.)

The same seed drives both configurations. Figures vary with the machine's load; the ratio is
what the issue's target is about (>= 0.8).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import time
from typing import Any

from kraken_prime_async import APIConnectionError, PrimeClient, RetryPolicy
from kraken_prime_async.sandbox import PrimeSandbox

TIMEOUT = 0.05
FAULTS = ("drop_before", "drop_after", "http_500", "delay_before")
#: Retries without real backoff: the soak measures holds, not backoff.
QUICK_RETRY = RetryPolicy(initial_backoff=0.001, max_backoff=0.002, jitter=False)


def _refused(sb: PrimeSandbox) -> int:
    return sum(r.errors.count("EAPI:Invalid nonce") for r in sb.requests)


def _locked(sb: PrimeSandbox) -> bool:
    return any("EGeneral:Temporary lockout" in r.errors for r in sb.requests)


def _fault(sb: PrimeSandbox, rng: random.Random, kind: str) -> None:
    if kind == "delay_before":
        seconds = TIMEOUT * rng.uniform(1.0, 2.0)
        sb.faults.add("ListPrimeApiUsers", "delay_before", seconds=seconds)
    elif kind == "http_500":
        sb.faults.add("ListPrimeApiUsers", "http_500")
    else:
        sb.faults.add("ListPrimeApiUsers", kind)  # type: ignore[arg-type]


async def soak(hold: Any, calls: int, tasks: int, rate: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    plan = [rng.choice(FAULTS) if rng.random() < rate else None for _ in range(calls)]
    done = 0
    async with (
        PrimeSandbox(rate_limit=False, lockout_after=10**6) as sb,
        PrimeClient(
            sb.api_key,
            sb.api_secret,
            base_url=sb.url,
            abandon_hold=hold,
            rate_limit=None,
            timeout=TIMEOUT,
            retry=QUICK_RETRY,
        ) as client,
    ):
        queue = list(enumerate(plan))

        async def worker() -> None:
            nonlocal done
            while queue:
                _, fault = queue.pop()
                if fault is not None:
                    _fault(sb, rng, fault)
                try:
                    await client.api_users.list()
                    done += 1
                except APIConnectionError:
                    pass  # every attempt lost: counted as not done

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(tasks)))
        elapsed = time.perf_counter() - started
        await asyncio.sleep(3 * TIMEOUT)  # let the last delayed request land
        return {
            "calls/s": done / elapsed,
            "invalid_nonces": _refused(sb),
            "lockout": _locked(sb),
            "abandoned": client.stats.abandoned,
        }


async def one_in_twenty(hold: Any, calls: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    done = 0
    async with (
        PrimeSandbox(rate_limit=False, lockout_after=10**6) as sb,
        PrimeClient(
            sb.api_key, sb.api_secret, base_url=sb.url, abandon_hold=hold, rate_limit=None
        ) as client,
    ):
        started = time.perf_counter()
        for index in range(calls):
            if index % 20 == 19:
                _fault(sb, rng, "delay_before")
            try:
                await client.api_users.list(timeout=TIMEOUT, retry=RetryPolicy.disabled())
                done += 1
            except APIConnectionError:
                pass  # the timeout
        elapsed = time.perf_counter() - started
        await asyncio.sleep(3 * TIMEOUT)
        return {"calls/s": done / elapsed, "invalid_nonces": _refused(sb), "lockout": _locked(sb)}


async def late_answer(slow: float, delay: float) -> dict[str, Any]:
    """A slow answer, fast ones, then a cancelled read: the next read's wait."""
    async with (
        PrimeSandbox(rate_limit=False) as sb,
        PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url, rate_limit=None) as client,
    ):
        sb.faults.add("ListPrimeApiUsers", "delay_before", seconds=slow)
        await client.api_users.list()  # the slow answer
        for _ in range(20):
            await client.api_users.list()
        sb.faults.add("ListPrimeApiUsers", "delay_before", seconds=delay)
        started = time.perf_counter()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(client.api_users.list(), TIMEOUT)
        await client.api_users.list()
        waited = time.perf_counter() - started
        return {"beyond its answer (s)": waited - delay, "invalid_nonces": _refused(sb)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--slow", type=float, default=8.0)
    parser.add_argument("--delay", type=float, default=0.5)
    args = parser.parse_args()

    async def run() -> None:
        on = await soak("auto", args.calls, args.tasks, args.fault_rate, args.seed)
        off = await soak(0, args.calls, args.tasks, args.fault_rate, args.seed)
        print(
            f"soak {args.calls} calls, {args.tasks} tasks, {args.fault_rate:.0%} faults, window 0"
        )
        print(f"  watching (auto): {on}")
        print(f"  abandon_hold=0 : {off}")
        print(f"  ratio: {on['calls/s'] / off['calls/s']:.2f}")
        on = await one_in_twenty("auto", 400, args.seed)
        off = await one_in_twenty(0, 400, args.seed)
        print("one timeout in 20 reads (400 reads)")
        print(f"  watching (auto): {on}")
        print(f"  abandon_hold=0 : {off}")
        print(f"  ratio: {on['calls/s'] / off['calls/s']:.2f}")
        print(f"late answer after a {args.slow} s answer earlier:")
        print(f"  {await late_answer(args.slow, args.delay)}")

    asyncio.run(run())


if __name__ == "__main__":
    main()

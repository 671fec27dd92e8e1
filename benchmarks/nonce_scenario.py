"""Many concurrent calls on one key over a reordering network: ours vs naive vs serialised.

The sandbox runs with nonce window 0, random per-request latency (requests overtake each other)
and the pro-tier call counter (20, -1/s). Time is scaled: the sandbox and the clients share a
clock running ``SPEED`` times faster than the wall, so the rate-limit bound of a few minutes
passes in seconds; reported times are in scaled seconds.

Strategies, in one run:

* ``kraken_prime_async``: ``asyncio.gather`` of N calls on one client (per-key dispatch, pacing).
* ``naive concurrent``: bare aiohttp, a shared nonce counter, all N at once; an invalid nonce is
  re-signed with a fresh nonce and re-sent at once, a rate limit waits 1 s (up to 8 attempts).
* ``serialised``: bare aiohttp, one call after another (the textbook fix), same retry rules.

Run: ``.venv/bin/python -m benchmarks.nonce_scenario [--calls 200]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from kraken_prime_async import PrimeClient
from kraken_prime_async._keys.pacing import RateLimitSetting
from kraken_prime_async._signing import sign
from kraken_prime_async.sandbox import PrimeSandbox

SPEED = 100.0
LATENCY = (0.0, 0.004)
MAX_ATTEMPTS = 8
PATH = "/0/private/ListPrimeApiUsers"


class ScaledTime:
    """A wall clock and a sleep running ``SPEED`` times faster than real time."""

    def __init__(self) -> None:
        self._start = time.time()

    def clock(self) -> float:
        return self._start + (time.time() - self._start) * SPEED

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / SPEED)


@dataclass
class Outcome:
    name: str
    successes: int
    failures: int
    attempts: int
    nonce_rejections: int
    rate_limited: int
    lockouts: int
    scaled_seconds: float


class NaiveCaller:
    """Hand-made signed calls with the usual retry loop."""

    def __init__(self, session: aiohttp.ClientSession, sb: PrimeSandbox, t: ScaledTime) -> None:
        self.session, self.sb, self.t = session, sb, t
        self.nonce = int(time.time() * 1000)
        self.attempts = self.nonce_rejections = self.rate_limited = self.lockouts = 0

    async def call(self) -> bool:
        for _ in range(MAX_ATTEMPTS):
            self.nonce += 1
            body = b'{"nonce":%d}' % self.nonce
            headers = {
                "API-Key": self.sb.api_key,
                "API-Sign": sign(PATH, self.nonce, body, self.sb.api_secret),
                "Content-Type": "application/json",
            }
            self.attempts += 1
            async with self.session.post(self.sb.url + PATH, data=body, headers=headers) as r:
                errors = json.loads(await r.read()).get("error", [])
            if not errors:
                return True
            if errors[0] == "EAPI:Invalid nonce":
                self.nonce_rejections += 1
                continue
            if "Rate limit" in errors[0]:
                self.rate_limited += 1
                await self.t.sleep(1.0)
                continue
            if "lockout" in errors[0]:
                self.lockouts += 1
            return False
        return False


async def _scenario(
    name: str, calls: int, run: Callable[[PrimeSandbox, ScaledTime], Awaitable[Outcome]]
) -> Outcome:
    t = ScaledTime()
    async with PrimeSandbox(tier="pro", latency=LATENCY, seed=1, clock=t.clock) as sb:
        return await run(sb, t)


def ours(
    calls: int, rate_limit: RateLimitSetting = "auto"
) -> Callable[[PrimeSandbox, ScaledTime], Awaitable[Outcome]]:
    async def run(sb: PrimeSandbox, t: ScaledTime) -> Outcome:
        start = t.clock()
        async with PrimeClient(
            sb.api_key,
            sb.api_secret,
            base_url=sb.url,
            clock=t.clock,
            sleep=t.sleep,
            rate_limit=rate_limit,
        ) as client:
            results = await asyncio.gather(
                *(client.api_users.list() for _ in range(calls)), return_exceptions=True
            )
            stats = client.stats
        failures = sum(isinstance(r, BaseException) for r in results)
        lockouts = sum("lockout" in e for r in sb.requests for e in r.errors)
        return Outcome(
            f"kraken_prime_async (rate_limit={rate_limit!r})",
            calls - failures,
            failures,
            stats.attempts,
            stats.nonce_rejections,
            stats.rate_limit_errors,
            lockouts,
            t.clock() - start,
        )

    return run


def naive(
    calls: int, *, concurrent: bool
) -> Callable[[PrimeSandbox, ScaledTime], Awaitable[Outcome]]:
    async def run(sb: PrimeSandbox, t: ScaledTime) -> Outcome:
        start = t.clock()
        async with aiohttp.ClientSession() as session:
            caller = NaiveCaller(session, sb, t)
            if concurrent:
                results = await asyncio.gather(*(caller.call() for _ in range(calls)))
            else:
                results = [await caller.call() for _ in range(calls)]
        return Outcome(
            "naive concurrent" if concurrent else "serialised",
            sum(results),
            calls - sum(results),
            caller.attempts,
            caller.nonce_rejections,
            caller.rate_limited,
            caller.lockouts,
            t.clock() - start,
        )

    return run


def table(outcomes: list[Outcome], calls: int) -> str:
    bound = calls - 20  # pro tier: 20 at once, then one per second
    lines = [
        f"{calls} calls on one key, nonce window 0, random latency {LATENCY} s, pro tier "
        f"(rate-limit bound {bound} s, scaled x{SPEED:.0f})",
        "",
        "| strategy | ok | failed | attempts/success | invalid-nonce % of attempts | "
        "rate-limited | lockouts | time (s) | time / bound |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        per = o.attempts / o.successes if o.successes else float("inf")
        lines.append(
            f"| {o.name} | {o.successes} | {o.failures} | {per:.2f} | "
            f"{100 * o.nonce_rejections / max(o.attempts, 1):.1f} | {o.rate_limited} | "
            f"{o.lockouts} | {o.scaled_seconds:.0f} | {o.scaled_seconds / bound:.2f} |"
        )
    return "\n".join(lines)


async def main(calls: int) -> str:
    outcomes = [
        await _scenario("ours", calls, ours(calls)),
        await _scenario("ours, tier known", calls, ours(calls, "pro")),
        await _scenario("naive", calls, naive(calls, concurrent=True)),
        await _scenario("serial", calls, naive(calls, concurrent=False)),
    ]
    return table(outcomes, calls)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--output", help="also write the table (markdown) to this file")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report = asyncio.run(main(args.calls))
    print(report)
    if args.output:
        command = f".venv/bin/python -m benchmarks.nonce_scenario --calls {args.calls}"
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(f"# One key, many tasks\n\n{started}; `{command}`\n\n{report}\n")

"""Figures for issue 12 sections 1, 6 and 7, against the embedded sandbox.

``python -m benchmarks.keyguard_figures`` prints: invalid nonces at the sandbox after 20 rounds
of "give up after 50 ms on a request delayed 0.3 s before its nonce check, then call again"
(window 0 and 5000 ms; with the hold off and on), refusals per minute on a key poisoned by ns
nonces (200 calls per minute of an injected clock, three minutes), and SDK tasks still running
after ``settle_batch`` with a raising ``on_progress`` returned or raised. Runs on older versions
of the package too (what they lack is reported as such).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from typing import Any

from kraken_prime_async import InvalidNonceError, LocalNonceSource, PrimeClient, RetryPolicy
from kraken_prime_async.sandbox import PrimeSandbox

HAS_HOLD = "abandon_hold" in inspect.signature(PrimeClient).parameters


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def _refused(sb: PrimeSandbox) -> int:
    return sum(r.errors.count("EAPI:Invalid nonce") for r in sb.requests)


def _locked(sb: PrimeSandbox) -> bool:
    return any("EGeneral:Temporary lockout" in r.errors for r in sb.requests)


async def timeouts(window: int, hold: Any) -> str:
    kwargs: dict[str, Any] = {"nonce_window": window}
    if HAS_HOLD and hold is not None:
        kwargs["abandon_hold"] = hold
    async with PrimeSandbox(rate_limit=False, nonce_window=window) as sb:
        async with PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url, **kwargs) as client:
            started = time.monotonic()
            for index in range(20):
                sb.faults.add("ListPrimeApiUsers", "delay_before", seconds=0.3)
                try:
                    if index % 2 == 0:
                        await asyncio.wait_for(client.api_users.list(), 0.05)
                    else:
                        await client.api_users.list(timeout=0.05, retry=RetryPolicy.disabled())
                except Exception:  # the caller gave up
                    pass
                try:
                    await client.api_users.list()
                except Exception as exc:
                    print("   next call failed:", type(exc).__name__)
            elapsed = time.monotonic() - started
            await asyncio.sleep(0.4)
            abandoned = getattr(client.stats, "abandoned", "n/a")
        return (
            f"window={window:5d} hold={hold if HAS_HOLD else 'none (no such parameter)'}: "
            f"invalid nonces at the sandbox={_refused(sb)}, lockout={_locked(sb)}, "
            f"client nonce_rejections={client.stats.nonce_rejections}, abandoned={abandoned}, "
            f"{elapsed:.1f} s"
        )


async def poisoned(minutes: int = 3, calls: int = 200) -> str:
    clock = Clock()
    async with PrimeSandbox(rate_limit=False, lockout_after=10**6) as sb:
        service = PrimeClient(
            sb.api_key, sb.api_secret, base_url=sb.url, clock=clock, sleep=clock.sleep
        )
        poisoner = PrimeClient(
            sb.api_key, sb.api_secret, base_url=sb.url, nonce_source=LocalNonceSource("ns")
        )
        async with service, poisoner:
            await service.api_users.list()
            await poisoner.api_users.list()
            per_minute = []
            for _ in range(minutes):
                before = _refused(sb)
                for _ in range(calls):
                    with contextlib.suppress(InvalidNonceError):
                        await service.api_users.list()
                per_minute.append(_refused(sb) - before)
                clock.now += 60
    return f"poisoned key, {calls} calls a minute: invalid-nonce refusals per minute {per_minute}"


async def raising_callback() -> str:
    def on_progress(done: int, total: int, outcome: object) -> None:
        raise RuntimeError("progress display broke")

    def sdk_tasks() -> int:
        me = asyncio.current_task()
        return sum(
            1
            for t in asyncio.all_tasks()
            if t is not me
            and "/kraken_prime_async/"
            in getattr(getattr(t.get_coro(), "cr_code", None), "co_filename", "")
        )

    async with (
        PrimeSandbox(rate_limit=False, latency=(0.0, 0.01), seed=3) as sb,
        PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url) as client,
    ):
        for index in range(10):
            sb.add_trade(f"A{index}", "1.5")
        batch = await client.settlement.create_batch()
        sb.confirm_batch(batch.id)
        try:
            report = await client.settlement.settle_batch(batch.id, on_progress=on_progress)
            ended = f"returned ({len(report.settled)} settled in the report)"
        except RuntimeError:
            ended = "raised RuntimeError (no report)"
        left = sdk_tasks()

        def settled() -> int:
            return sum(
                1
                for r in sb.requests
                if getattr(r, "operation", "") == "SettlePrimeSettlementBatchAsset" and r.processed
            )

        at_end = settled()
        await asyncio.sleep(2)
        later = settled()
    return (
        f"raising on_progress, 10 legs: settle_batch {ended}; SDK tasks still running then: "
        f"{left}; transfers then: {at_end}, 2 s later: {later}"
    )


async def main() -> None:
    for window in (0, 5000):
        print(await timeouts(window, 0))
        print(await timeouts(window, "auto"))
    print(await poisoned())
    print(await raising_callback())


if __name__ == "__main__":
    asyncio.run(main())

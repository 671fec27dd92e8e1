"""Event-loop friendliness: how long our client keeps the loop from running anything else.

1,000 concurrent ``api_users.list()`` calls spread over 20 API keys (50 per key, nonce window 0:
each key sends one request at a time, so most calls wait in their key's queue) against the
loopback server in its own process. Two measurements, in one run:

* **blocked** (the target): every callback the loop runs is timed (``asyncio.Handle._run``
  wrapped, the hook asyncio's own debug mode uses for ``slow_callback_duration``). One callback
  is one uninterrupted stretch of code — a task step of a call, aiohttp's protocol reading an
  answer — during which nothing else on the loop can run. It is timed in thread CPU time
  (``time.thread_time``), so a preemption by another process on the shared machine is not
  charged to us (a hypervisor's steal time may be: the target takes the median over runs of each
  run's longest callback, so a one-off stall of the machine in one run does not decide it, while
  a slow path of ours, which runs in every run, does). Reported per run: the longest and the 99th
  percentile.
* **garbage collection**: a collection pauses the loop inside whichever callback allocated last;
  its length depends on every live object in the process, the harness's 1,000 tasks included, so
  it is timed apart (``gc.callbacks``), taken out of that callback, and reported per run (count,
  longest pause, oldest generation collected).
* **ticker lag** (context): a ticker task yields with ``await asyncio.sleep(0)`` in a loop and
  records the time between its turns: the length of one loop iteration, i.e. every callback that
  was ready when it yielded. It depends on how many calls are in flight at once (twenty answers
  arriving together are processed back to back), not only on how long each callback is.

The 1,000 calls are started in groups of 20 with a yield between groups, as a service spawning
work as it arrives would; the ticker starts before the first group. Garbage collection runs as it
normally would (its pauses are part of what a caller's loop feels). Each child is a fresh process.

Run: ``.venv/bin/python -m benchmarks.looplag [--calls 1000] [--keys 20] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .clients import SECRET, fresh_key
from .serverproc import ROOT, ServerProcess

CALLS = 1000
KEYS = 20
LAUNCH_GROUP = 20


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class CallbackTimer:
    """Times every callback the event loop runs while installed, garbage collection apart.

    The harness's own steps (starting calls, the ticker) call :meth:`harness` when they resume;
    the callback they run in is then left out. A collection (``gc.callbacks``) is timed on its own
    and its time taken out of the callback it interrupted: how long a collection takes depends on
    every object in the process (the harness's 1,000 tasks included), not on the code that
    happened to trigger it. The collections are reported next to the callbacks.
    """

    def __init__(self) -> None:
        self.durations: list[float] = []
        #: (generation, seconds) of each collection while installed
        self.collections: list[tuple[int, float]] = []
        self._original: Callable[[asyncio.Handle], None] | None = None
        self._harness = False
        self._gc_started = 0.0
        self._gc_seconds = 0.0

    def harness(self) -> None:
        """Mark the running callback as the harness's, not the client's."""
        self._harness = True

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.thread_time()
            return
        spent = time.thread_time() - self._gc_started
        self._gc_seconds += spent
        self.collections.append((int(info["generation"]), spent))

    def install(self) -> None:
        original = asyncio.Handle._run
        durations = self.durations
        clock = time.thread_time

        def _run(handle: asyncio.Handle) -> None:
            self._gc_seconds = 0.0
            started = clock()
            original(handle)
            if self._harness:
                self._harness = False
            else:
                durations.append(clock() - started - self._gc_seconds)

        self._original = original
        asyncio.Handle._run = _run  # type: ignore[method-assign]
        gc.callbacks.append(self._on_gc)

    def remove(self) -> None:
        if self._original is not None:
            asyncio.Handle._run = self._original  # type: ignore[method-assign]
            self._original = None
            gc.callbacks.remove(self._on_gc)


async def _ticker(gaps: list[float], stop: asyncio.Event, timer: CallbackTimer) -> None:
    clock = time.perf_counter
    last = clock()
    while not stop.is_set():
        await asyncio.sleep(0)
        timer.harness()
        now = clock()
        gaps.append(now - last)
        last = now


async def _child(url: str, calls: int, keys: int) -> dict[str, Any]:
    from kraken_prime_async import PrimeClient

    clients = [PrimeClient(fresh_key("lag"), SECRET, base_url=url) for _ in range(keys)]
    for client in clients:
        await client.api_users.list()  # connection open, dispatcher and counters created
    timer = CallbackTimer()
    gaps: list[float] = []
    stop = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []
    timer.install()
    ticker = asyncio.create_task(_ticker(gaps, stop, timer))
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        for start in range(0, calls, LAUNCH_GROUP):
            for i in range(start, min(calls, start + LAUNCH_GROUP)):
                tasks.append(asyncio.create_task(clients[i % keys].api_users.list()))
            await asyncio.sleep(0)
            timer.harness()
        results = await asyncio.gather(*tasks)
        timer.harness()
    finally:
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        stop.set()
        await ticker
        timer.remove()
    if len(results) != calls or any(len(r) != 1 for r in results):
        raise AssertionError("looplag: a call returned the wrong result")
    for client in clients:
        await client.close()
    blocked = timer.durations
    return {
        "calls": calls,
        "keys": keys,
        "callbacks": len(blocked),
        "blocked_max_ms": 1e3 * max(blocked),
        "blocked_p99_ms": 1e3 * _percentile(blocked, 0.99),
        "blocked_p50_ms": 1e3 * statistics.median(blocked),
        "gc_count": len(timer.collections),
        "gc_max_ms": 1e3 * max((t for _, t in timer.collections), default=0.0),
        "gc_oldest_generation": max((g for g, _ in timer.collections), default=-1),
        "ticks": len(gaps),
        "tick_max_ms": 1e3 * max(gaps),
        "tick_p99_ms": 1e3 * _percentile(gaps, 0.99),
        "tick_p50_ms": 1e3 * statistics.median(gaps),
        "wall_s": wall,
        "cpu_us_per_call": 1e6 * cpu / calls,
    }


@dataclass(frozen=True)
class LoopLagResult:
    """One fresh child process's figures (milliseconds unless named otherwise)."""

    calls: int
    keys: int
    callbacks: int
    blocked_max_ms: float
    blocked_p99_ms: float
    blocked_p50_ms: float
    gc_count: int
    gc_max_ms: float
    gc_oldest_generation: int
    ticks: int
    tick_max_ms: float
    tick_p99_ms: float
    tick_p50_ms: float
    wall_s: float
    cpu_us_per_call: float


def measure(url: str, *, calls: int = CALLS, keys: int = KEYS) -> LoopLagResult:
    """Run one child process against ``url`` and return its figures."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.looplag", "--child", url, str(calls), str(keys)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return LoopLagResult(**json.loads(out.stdout.strip().splitlines()[-1]))


def run(url: str, *, runs: int, calls: int = CALLS, keys: int = KEYS) -> list[LoopLagResult]:
    return [measure(url, calls=calls, keys=keys) for _ in range(runs)]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        url, calls, keys = argv[1:]
        print(json.dumps(asyncio.run(_child(url, int(calls), int(keys)))))
        return
    parser = argparse.ArgumentParser(prog="python -m benchmarks.looplag")
    parser.add_argument("--calls", type=int, default=CALLS)
    parser.add_argument("--keys", type=int, default=KEYS)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with ServerProcess() as urls:
        for result in run(urls.tiny, runs=args.runs, calls=args.calls, keys=args.keys):
            print(result)


if __name__ == "__main__":
    main()

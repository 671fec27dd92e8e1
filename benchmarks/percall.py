"""Per-call cost: client CPU per call and calls/s, every client interleaved in rounds.

The server runs in another process, so ``time.process_time()`` here counts only client work
(event loop, HTTP, signing, decoding, SDK logic). Every round runs each client once sequentially
and once at concurrency ``CONCURRENCY``, rotating the order; a ratio to the floor is taken per
round (same conditions) and the median of rounds is reported.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .clients import (
    ASYNC_CLIENTS,
    FLOOR_NAME,
    SYNC_CLIENTS,
    AsyncClient,
    Scenario,
    SyncClient,
    items,
)
from .stats import median, spread

CONCURRENCY = 50


@dataclass(frozen=True)
class Sample:
    cpu_s: float
    wall_s: float
    calls: int

    @property
    def cpu_us_per_call(self) -> float:
        return 1e6 * self.cpu_s / self.calls

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.wall_s


@dataclass
class ClientRuns:
    """Every round's samples of one client in one scenario."""

    name: str
    sequential: list[Sample] = field(default_factory=list)
    concurrent: list[Sample] = field(default_factory=list)


@dataclass(frozen=True)
class ClientSummary:
    name: str
    cpu_us: float
    cpu_spread_pct: float
    calls_per_s: float
    cpu_us_conc: float | None
    calls_per_s_conc: float | None
    ratio_to_floor: float
    ratio_to_floor_conc: float | None


async def _run_async(client: AsyncClient, calls: int, concurrency: int) -> Sample:
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await client.call()

    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    if concurrency == 1:
        for _ in range(calls):
            await client.call()
    else:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Sample(time.process_time() - cpu, time.perf_counter() - wall, calls)


def _run_sync(client: SyncClient, calls: int) -> Sample:
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        client.call()
    return Sample(time.process_time() - cpu, time.perf_counter() - wall, calls)


def _expected_items(scenario: Scenario) -> int:
    return 1 if scenario == "tiny" else 200


def _warm_up(
    loop: asyncio.AbstractEventLoop,
    async_clients: Sequence[AsyncClient],
    sync_clients: Sequence[SyncClient],
    warmup: int,
    expected: int,
) -> None:
    """Open every client and check its answers while warming it up."""
    for ac in async_clients:
        loop.run_until_complete(ac.open())
        for _ in range(warmup):
            got = items(loop.run_until_complete(ac.call()))
            if got != expected:
                raise AssertionError(f"{ac.name}: {got} items, expected {expected}")
    for sc in sync_clients:
        sc.open()
        for _ in range(warmup):
            if items(sc.call()) != expected:
                raise AssertionError(f"{sc.name}: wrong result")


def run_scenario(
    loop: asyncio.AbstractEventLoop,
    base_url: str,
    scenario: Scenario,
    *,
    rounds: int,
    calls: int,
    warmup: int,
    async_classes: Sequence[Callable[[str, Scenario], AsyncClient]] = ASYNC_CLIENTS,
    sync_classes: Sequence[Callable[[str, Scenario], SyncClient]] = SYNC_CLIENTS,
) -> list[ClientRuns]:
    """Measure every client on ``scenario``; returns the raw samples per client."""
    async_clients = [cls(base_url, scenario) for cls in async_classes]
    sync_clients = [cls(base_url, scenario) for cls in sync_classes]
    runs = {c.name: ClientRuns(c.name) for c in [*async_clients, *sync_clients]}
    _warm_up(loop, async_clients, sync_clients, warmup, _expected_items(scenario))
    order: list[tuple[AsyncClient | None, SyncClient | None]] = [
        *((ac, None) for ac in async_clients),
        *((None, sc) for sc in sync_clients),
    ]
    try:
        for r in range(rounds):
            shift = r % len(order)
            for ac, sc in order[shift:] + order[:shift]:
                if sc is not None:
                    runs[sc.name].sequential.append(_run_sync(sc, calls))
                elif ac is not None:
                    run = runs[ac.name]
                    run.sequential.append(loop.run_until_complete(_run_async(ac, calls, 1)))
                    run.concurrent.append(
                        loop.run_until_complete(_run_async(ac, calls, CONCURRENCY))
                    )
    finally:
        for ac in async_clients:
            loop.run_until_complete(ac.close())
        for sc in sync_clients:
            sc.close()
        loop.run_until_complete(asyncio.sleep(0.05))  # let connection closes finish
    return list(runs.values())


def _ratios(mine: list[Sample], floor: list[Sample]) -> float | None:
    if not mine:
        return None
    return median(
        [m.cpu_s / m.calls / (f.cpu_s / f.calls) for m, f in zip(mine, floor, strict=True)]
    )


def summarize(runs: list[ClientRuns]) -> list[ClientSummary]:
    floor = next(r for r in runs if r.name == FLOOR_NAME)
    out = []
    for run in runs:
        seq_cpu = [s.cpu_us_per_call for s in run.sequential]
        conc = run.concurrent
        out.append(
            ClientSummary(
                name=run.name,
                cpu_us=median(seq_cpu),
                cpu_spread_pct=spread(seq_cpu),
                calls_per_s=median([s.calls_per_s for s in run.sequential]),
                cpu_us_conc=median([s.cpu_us_per_call for s in conc]) if conc else None,
                calls_per_s_conc=median([s.calls_per_s for s in conc]) if conc else None,
                ratio_to_floor=_ratios(run.sequential, floor.sequential) or float("nan"),
                ratio_to_floor_conc=_ratios(conc, floor.concurrent),
            )
        )
    return out


def pairwise_concurrent(runs: list[ClientRuns], a: str, b: str) -> float:
    """Median over rounds of ``a``'s CPU per call at concurrency 50 divided by ``b``'s."""
    by_name = {r.name: r for r in runs}
    ratio = _ratios(by_name[a].concurrent, by_name[b].concurrent)
    return float("nan") if ratio is None else ratio


def own_queueing(runs: list[ClientRuns], name: str) -> float:
    """Median over rounds of ``name``'s CPU per call at concurrency 50 divided by its own
    sequential CPU per call in the same round: what waiting in the key's queue costs."""
    run = next(r for r in runs if r.name == name)
    ratio = _ratios(run.concurrent, run.sequential)
    return float("nan") if ratio is None else ratio


def pairwise(runs: list[ClientRuns], a: str, b: str) -> float:
    """Median over rounds of ``a``'s sequential CPU per call divided by ``b``'s."""
    by_name = {r.name: r for r in runs}
    ratio = _ratios(by_name[a].sequential, by_name[b].sequential)
    return float("nan") if ratio is None else ratio

"""Sampling profile of OUR client's hot path against the loopback server (needs pyinstrument).

Usage: ``.venv/bin/python -m benchmarks.profile_ours [--calls N] [--concurrency C]``. Writes, per
answer size, a pyinstrument call tree and flat self-time listing
(``benchmarks/results/profile-<tiny|large>-{tree,flat}.txt``) and a cProfile listing sorted by
own time with exact call counts (``profile-<tiny|large>-cprofile.txt``; divide ``ncalls`` by the
number of calls in its header to get the count per SDK call). pyinstrument samples wall time: time
spent waiting in ``select``/``epoll`` is the server's turn and is not client CPU. With
``--concurrency C`` the calls run as C concurrent callers on the one key (window 0: queued), and
the files are named ``profile-<size>-c<C>-*``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
from collections.abc import Awaitable, Callable

from .clients import Ours, Scenario
from .serverproc import ROOT, ServerProcess

OUT = ROOT / "benchmarks" / "results"


async def _calls(client: Ours, calls: int, concurrency: int) -> None:
    if concurrency == 1:
        for _ in range(calls):
            await client.call()
        return
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await client.call()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _under(
    profiling: Callable[[Callable[[], Awaitable[None]]], Awaitable[None]],
    url: str,
    scenario: Scenario,
    calls: int,
    concurrency: int,
) -> None:
    client = Ours(url, scenario)
    await client.open()
    for _ in range(50):
        await client.call()
    await profiling(lambda: _calls(client, calls, concurrency))
    await client.close()


def _profile(url: str, scenario: Scenario, calls: int, concurrency: int) -> tuple[str, str, str]:
    from pyinstrument import Profiler
    from pyinstrument.renderers import ConsoleRenderer

    profiler = Profiler(interval=0.0002, async_mode="disabled")

    async def sampled(run: Callable[[], Awaitable[None]]) -> None:
        profiler.start()
        await run()
        profiler.stop()

    asyncio.run(_under(sampled, url, scenario, calls, concurrency))
    session = profiler.last_session
    assert session is not None
    tree = ConsoleRenderer(show_all=False, short_mode=False).render(session)
    flat = ConsoleRenderer(flat=True, time="percent_of_total").render(session)

    exact = cProfile.Profile()

    async def traced(run: Callable[[], Awaitable[None]]) -> None:
        exact.enable()
        await run()
        exact.disable()

    asyncio.run(_under(traced, url, scenario, calls, concurrency))
    out = io.StringIO()
    out.write(f"cProfile of {calls} {scenario} calls at concurrency {concurrency}\n")
    pstats.Stats(exact, stream=out).sort_stats("tottime").print_stats(60)
    return tree, flat, out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_ours")
    parser.add_argument("--calls", type=int, default=3000, help="tiny calls (large: calls / 10)")
    parser.add_argument("--concurrency", type=int, default=1, help="callers on the one key")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    tag = "" if args.concurrency == 1 else f"-c{args.concurrency}"
    with ServerProcess() as urls:
        for scenario, url, calls in (
            ("tiny", urls.tiny, args.calls),
            ("large", urls.large, max(1, args.calls // 10)),
        ):
            tree, flat, exact = _profile(url, scenario, calls, args.concurrency)  # type: ignore[arg-type]
            (OUT / f"profile-{scenario}{tag}-tree.txt").write_text(tree)
            (OUT / f"profile-{scenario}{tag}-flat.txt").write_text(flat)
            (OUT / f"profile-{scenario}{tag}-cprofile.txt").write_text(exact)
            print(f"== {scenario}: top of the flat profile ==")
            print("\n".join(flat.splitlines()[:40]))


if __name__ == "__main__":
    main()

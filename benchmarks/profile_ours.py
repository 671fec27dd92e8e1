"""Sampling profile of OUR client's hot path against the loopback server (needs pyinstrument).

Usage: ``.venv/bin/python -m benchmarks.profile_ours [--calls N]``. Writes a call tree and a flat
self-time listing per answer size to ``benchmarks/results/profile-<tiny|large>-{tree,flat}.txt``.
The profiler samples wall time: time spent waiting in ``select``/``epoll`` is the server's turn and
is not client CPU.
"""

from __future__ import annotations

import argparse
import asyncio

from .clients import Ours, Scenario
from .serverproc import ROOT, ServerProcess

OUT = ROOT / "benchmarks" / "results"


async def _profile(url: str, scenario: Scenario, calls: int) -> tuple[str, str]:
    from pyinstrument import Profiler
    from pyinstrument.renderers import ConsoleRenderer

    client = Ours(url, scenario)
    await client.open()
    for _ in range(50):
        await client.call()
    profiler = Profiler(interval=0.0002, async_mode="disabled")
    profiler.start()
    for _ in range(calls):
        await client.call()
    session = profiler.stop()
    await client.close()
    tree = ConsoleRenderer(show_all=False, short_mode=False).render(session)
    flat = ConsoleRenderer(flat=True, time="percent_of_total").render(session)
    return tree, flat


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_ours")
    parser.add_argument("--calls", type=int, default=3000, help="tiny calls (large: calls / 10)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with ServerProcess() as urls:
        for scenario, url, calls in (
            ("tiny", urls.tiny, args.calls),
            ("large", urls.large, max(1, args.calls // 10)),
        ):
            tree, flat = asyncio.run(_profile(url, scenario, calls))  # type: ignore[arg-type]
            (OUT / f"profile-{scenario}-tree.txt").write_text(tree)
            (OUT / f"profile-{scenario}-flat.txt").write_text(flat)
            print(f"== {scenario}: top of the flat profile ==")
            print("\n".join(flat.splitlines()[:40]))


if __name__ == "__main__":
    main()

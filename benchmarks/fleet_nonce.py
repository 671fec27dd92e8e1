"""What a shared nonce source costs per call: local vs file lock vs Redis, in one run.

Each source hands out ``--count`` nonces in a loop on one event loop; reported is the wall time
per nonce (median of ``--rounds`` interleaved rounds) and its ratio to the in-process source. The
Redis server is a throwaway ``redis-server`` on a free loopback port.

Run: ``.venv/bin/python -m benchmarks.fleet_nonce [--count 2000] [--rounds 7]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from kraken_prime_async import FileLockNonceSource, LocalNonceSource, NonceSource, RedisNonceSource
from tests.keys.fleet._redis_server import redis_server

RESULTS = Path(__file__).parent / "results"


async def per_nonce(source: NonceSource, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        await source.next_nonce()
    return (time.perf_counter() - started) / count * 1e6


async def measure(count: int, rounds: int, redis_url: str, directory: str) -> dict[str, float]:
    sources: dict[str, Any] = {
        "LocalNonceSource": LocalNonceSource(),
        "FileLockNonceSource": FileLockNonceSource(Path(directory) / "bench.nonce"),
        "RedisNonceSource (loopback)": RedisNonceSource(redis_url, key="bench:nonce"),
    }
    samples: dict[str, list[float]] = {name: [] for name in sources}
    for source in sources.values():  # warm up: open files and connections
        await per_nonce(source, 50)
    for round_ in range(rounds):
        names = list(sources)
        names = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in names:
            samples[name].append(await per_nonce(sources[name], count))
    await sources["RedisNonceSource (loopback)"].close()
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--output", type=Path, default=RESULTS / "fleet_nonce.md")
    args = parser.parse_args()
    with redis_server() as server, tempfile.TemporaryDirectory() as directory:
        medians = asyncio.run(measure(args.count, args.rounds, server.url, directory))
    lines = [
        "# Shared nonce sources: cost per nonce",
        "",
        f"Command: `python -m benchmarks.fleet_nonce --count {args.count} --rounds {args.rounds}`"
        f" ({time.strftime('%Y-%m-%d')}, one run, median of rounds).",
        "",
        "| source | µs per nonce | x local |",
        "|---|---|---|",
    ]
    local = medians["LocalNonceSource"]
    for name, value in medians.items():
        lines.append(f"| {name} | {value:.1f} | {value / local:.1f}x |")
    text = "\n".join(lines) + "\n"
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

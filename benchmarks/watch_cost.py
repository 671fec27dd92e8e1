"""CPU per call of the transport that watches abandoned requests (its exchange in a task of its
own) against the transport before it (read from git at ``--base``), against the loopback bench
server in a child process. Rounds interleave both; the median per-call CPU of each and the
median of the per-round ratios are printed.

    .venv/bin/python -m benchmarks.watch_cost [--base 2015fe0] [--calls 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.serverproc import ROOT, ServerProcess
from kraken_prime_async import LocalNonceSource, PrimeClient
from kraken_prime_async._transports.aiohttp import AiohttpTransport

SECRET = base64.b64encode(b"benchmark-secret-" * 4).decode()


def _transport_at(commit: str) -> Any:
    source = subprocess.run(
        ["git", "show", f"{commit}:kraken_prime_async/_transports/aiohttp.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "aiohttp_before.py"
    path.write_text(source)
    name = "kraken_prime_async._transports._aiohttp_before"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.AiohttpTransport


async def _per_call(transport: Any, url: str, calls: int) -> float:
    async with PrimeClient(
        "k" * 56,
        SECRET,
        base_url=url,
        transport=transport,
        rate_limit=None,
        nonce_source=LocalNonceSource(),
    ) as client:
        for _ in range(200):  # warm up
            await client.api_users.list()
        started = time.process_time()
        for _ in range(calls):
            await client.api_users.list()
        return (time.process_time() - started) / calls


async def _run(base: str, calls: int, rounds: int) -> None:
    before = _transport_at(base)
    with ServerProcess() as urls:
        old, new, ratios = [], [], []
        for _ in range(rounds):
            old.append(await _per_call(before(), urls.tiny, calls))
            new.append(await _per_call(AiohttpTransport(), urls.tiny, calls))
            ratios.append(new[-1] / old[-1])
    print(
        f"before ({base}): {statistics.median(old) * 1e6:.1f} us/call; watching: "
        f"{statistics.median(new) * 1e6:.1f} us/call; ratio (median of {rounds} rounds): "
        f"{statistics.median(ratios):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="2015fe0")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(_run(args.base, args.calls, args.rounds))


if __name__ == "__main__":
    main()

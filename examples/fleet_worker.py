"""A fleet of worker processes on one API key, coordinated by a FileLockFleet.

Every worker process builds its client with the same ``FileLockFleet(directory)``: the key's
nonce sequence, its in-flight slots and its call-counter model live in lock files there, so the
workers' requests reach Kraken in nonce order and none is refused with ``EAPI:Invalid nonce``,
however many concurrent tasks each worker runs.

Usage::

    # one worker of your fleet (start as many as you like on this host, same directory)
    export KRAKEN_PRIME_API_KEY=... KRAKEN_PRIME_API_SECRET=...   # KRAKEN_PRIME_BASE_URL optional
    export KRAKEN_PRIME_FLEET_DIR=/var/lib/settler/kraken
    python examples/fleet_worker.py --tasks 20

    # without KRAKEN_PRIME_API_KEY: starts a sandbox (nonce window 0, random latency so requests
    # overtake each other), then 3 worker processes of this script on one key, and checks them
    python examples/fleet_worker.py

The work here is a read (listing batches) so that it is safe to point at a real account; a
settlement fleet would call ``settle_batch`` on the batches it owns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile

from kraken_prime_async import FileLockFleet, PrimeClient
from kraken_prime_async.sandbox import PrimeSandbox


async def work(tasks: int, fleet_dir: str) -> dict[str, int]:
    """One worker: ``tasks`` concurrent calls on the fleet's key; returns its counters."""
    fleet = FileLockFleet(fleet_dir)
    try:
        async with PrimeClient(
            os.environ["KRAKEN_PRIME_API_KEY"],
            os.environ["KRAKEN_PRIME_API_SECRET"],
            base_url=os.environ.get("KRAKEN_PRIME_BASE_URL", "https://api.kraken.com"),
            fleet=fleet,
            rate_limit=None if "KRAKEN_PRIME_NO_PACING" in os.environ else "auto",
        ) as client:
            await asyncio.gather(*(client.settlement.list_batches(limit=10) for _ in range(tasks)))
            stats = client.stats
    finally:
        await fleet.close()
    return {
        "pid": os.getpid(),
        "ok": stats.successes,
        "attempts": stats.attempts,
        "invalid_nonces": stats.nonce_rejections,
    }


async def demo(workers: int, tasks: int) -> int:
    """Start a sandbox and ``workers`` processes of this script on one key; check the result."""
    async with PrimeSandbox(rate_limit=False, latency=(0.0, 0.004), seed=7) as sandbox:
        with tempfile.TemporaryDirectory() as fleet_dir:
            env = {
                **os.environ,
                "KRAKEN_PRIME_BASE_URL": sandbox.url,
                "KRAKEN_PRIME_API_KEY": sandbox.api_key,
                "KRAKEN_PRIME_API_SECRET": sandbox.api_secret,
                "KRAKEN_PRIME_FLEET_DIR": fleet_dir,
                "KRAKEN_PRIME_NO_PACING": "1",
            }
            command = [sys.executable, __file__, "--tasks", str(tasks), "--json"]
            children = [
                await asyncio.create_subprocess_exec(*command, env=env, stdout=subprocess.PIPE)
                for _ in range(workers)
            ]
            outputs = [await child.communicate() for child in children]
        refused = [r for r in sandbox.requests if "EAPI:Invalid nonce" in (r.errors or ())]
    results = [json.loads(out) for out, _ in outputs]
    for result in results:
        print(
            f"worker {result['pid']}: {result['ok']}/{tasks} ok, {result['attempts']} attempts, "
            f"{result['invalid_nonces']} invalid nonces"
        )
    failed = [child.returncode for child in children if child.returncode != 0]
    total_ok = sum(result["ok"] for result in results)
    print(
        f"{workers} workers x {tasks} tasks on one key: {total_ok} ok, "
        f"{len(refused)} invalid nonces at the server"
    )
    return 1 if failed or refused or total_ok != workers * tasks else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tasks", type=int, default=20, help="concurrent calls per worker")
    parser.add_argument("--workers", type=int, default=3, help="processes (sandbox demo only)")
    parser.add_argument("--json", action="store_true", help="print the counters as JSON")
    args = parser.parse_args()
    if "KRAKEN_PRIME_API_KEY" not in os.environ:
        return asyncio.run(demo(args.workers, args.tasks))
    fleet_dir = os.environ.get("KRAKEN_PRIME_FLEET_DIR")
    if not fleet_dir:
        sys.exit("set KRAKEN_PRIME_FLEET_DIR: the directory every worker of the fleet shares")
    result = asyncio.run(work(args.tasks, fleet_dir))
    print(json.dumps(result) if args.json else result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

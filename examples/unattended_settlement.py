"""A settlement run that is safe to kill and start again: journal, idempotency key, watch, audit.

Usage::

    # against Kraken: settings from the environment, the journal on a local disk
    export KRAKEN_PRIME_API_KEY=... KRAKEN_PRIME_API_SECRET=...
    python examples/unattended_settlement.py --journal /var/lib/settle/journal.sqlite3

    # without KRAKEN_PRIME_API_KEY: on a local sandbox whose batch confirms itself
    python examples/unattended_settlement.py

Each run: settles what a killed run left in flight (``resolve_pending``), creates the day's batch
once (``idempotency_key``: a rerun gets the same batch), waits for its confirmation by watching
it, settles every leg, and appends the journal's audit export next to it
(``kraken-prime journal verify`` checks it). Exit status 0 when the batch is complete, 4 if not.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from pathlib import Path

from kraken_prime_async import BatchConfirmed, PrimeClient
from kraken_prime_async.sandbox import PrimeSandbox

INCOMPLETE = 4


@asynccontextmanager
async def prime_client(journal: Path) -> AsyncIterator[PrimeClient]:
    """A journaled client: from the environment, or on a sandbox started here."""
    if "KRAKEN_PRIME_API_KEY" in os.environ:
        async with PrimeClient.from_env(journal=journal) as client:
            yield client
        return
    async with PrimeSandbox(auto_confirm_after=0.5) as sandbox:
        for asset, amount in [("BTC", "1.25"), ("ETH", "-30"), ("USD", "-2500")]:
            sandbox.add_trade(asset, amount)
        async with PrimeClient(
            sandbox.api_key, sandbox.api_secret, base_url=sandbox.url, journal=journal
        ) as client:
            yield client


async def run(journal: Path, interval: float) -> int:
    async with prime_client(journal) as client:
        for found in await client.journal.resolve_pending():
            print(f"left by a killed run: {found.operation} -> {found.status} ({found.how})")
        today = datetime.date.today().isoformat()
        batch = await client.settlement.create_batch(idempotency_key=f"batch-{today}")
        print(f"batch {batch.id}: {len(batch.legs)} legs")
        if not batch.attributes.confirmed:
            async with aclosing(client.settlement.watch(batch.id, interval=interval)) as events:
                async for event in events:
                    if isinstance(event, BatchConfirmed):
                        print("confirmed")
                        break
        report = await client.settlement.settle_batch(batch.id)
        for leg in report.legs:
            print(f"  {leg.asset}: {leg.result} {leg.reason or ''}".rstrip())
        audit = journal.with_suffix(".audit.jsonl")
        with audit.open("a") as out:
            async for line in client.journal.export():
                out.write(line)
        print(f"complete={report.complete}; audit trail in {audit}")
        return 0 if report.complete else INCOMPLETE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journal", type=Path, help="the SQLite journal (default: a temp file)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between polls")
    args = parser.parse_args()
    journal = args.journal or Path(tempfile.mkdtemp()) / "journal.sqlite3"
    sys.exit(asyncio.run(run(journal, args.interval)))


if __name__ == "__main__":
    main()

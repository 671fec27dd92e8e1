"""Settle every leg of a batch with a progress line per leg and a final report.

Usage::

    # against Kraken (or any server): the batch to settle, settings from the environment
    export KRAKEN_PRIME_API_KEY=... KRAKEN_PRIME_API_SECRET=...   # KRAKEN_PRIME_BASE_URL optional
    python examples/settle_batch.py BATCH_ID [--concurrency 8] [--wait-confirmation 300]

    # without KRAKEN_PRIME_API_KEY: starts a local sandbox, books trades, creates a batch that
    # confirms itself after a second, loses one settle answer, and settles it all
    python examples/settle_batch.py

Exit status: 0 when every leg is settled or had nothing to do, 4 when the batch is incomplete
(a leg failed or is unknown, or the batch was never confirmed). Running it again is safe: legs
already settling or settled are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from kraken_prime_async import LegOutcome, PrimeClient, SettlementReport
from kraken_prime_async.sandbox import PrimeSandbox

INCOMPLETE = 4


@asynccontextmanager
async def prime_client(batch_id: str | None) -> AsyncIterator[tuple[PrimeClient, str]]:
    """A client and the batch to settle: from the environment, or on a sandbox started here."""
    if "KRAKEN_PRIME_API_KEY" in os.environ:
        if batch_id is None:
            sys.exit("give the BATCH_ID to settle")
        async with PrimeClient(
            os.environ["KRAKEN_PRIME_API_KEY"],
            os.environ["KRAKEN_PRIME_API_SECRET"],
            base_url=os.environ.get("KRAKEN_PRIME_BASE_URL", "https://api.kraken.com"),
        ) as client:
            yield client, batch_id
        return
    async with PrimeSandbox(auto_confirm_after=1.0, latency=(0.0, 0.01)) as sandbox:
        for asset, amount in [("BTC", "1.25"), ("ETH", "-30"), ("SOL", "400"), ("USD", "-2500")]:
            sandbox.add_trade(asset, amount)
        sandbox.faults.add("SettlePrimeSettlementBatchAsset", "drop_after")  # one lost answer
        async with PrimeClient(sandbox.api_key, sandbox.api_secret, base_url=sandbox.url) as client:
            batch = await client.settlement.create_batch()
            print(f"sandbox at {sandbox.url}; batch {batch.id} confirms itself in 1 s")
            yield client, batch.id


def show_progress(done: int, total: int, outcome: LegOutcome) -> None:
    """``on_progress`` callback: one line per leg as it finishes."""
    note = f" ({outcome.reason})" if outcome.reason else ""
    print(f"[{done:>3}/{total}] {outcome.asset:<8} {outcome.result}{note}", flush=True)


def print_report(report: SettlementReport, seconds: float) -> None:
    """The per-leg table and a verdict."""
    print(f"\nbatch {report.batch_id}: confirmed={report.confirmed}, {seconds:.1f} s")
    print(f"{'asset':<8} {'result':<8} {'transfer':<10} detail")
    for leg in report.legs:
        transfer = leg.transfer.id if leg.transfer is not None else "-"
        detail = leg.reason or ""
        if leg.error is not None:
            detail = f"{type(leg.error).__name__}: {leg.error}"
        print(f"{leg.asset:<8} {leg.result:<8} {transfer:<10} {detail}")
    counts = {kind: len(getattr(report, kind)) for kind in ("settled", "skipped", "failed")}
    counts["unknown"] = len(report.unknown)
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    verdict = "complete" if report.complete else "INCOMPLETE: run again to settle the rest"
    print(f"{len(report.legs)} legs: {summary}; {verdict}")


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("batch_id", nargs="?")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="legs worked on at once; their requests overlap only with a nonce window on the key "
        "(KRAKEN_PRIME_NONCE_WINDOW): with Kraken's default of 0 they go one at a time",
    )
    parser.add_argument("--wait-confirmation", type=float, default=300.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")  # the SDK's warnings
    async with prime_client(args.batch_id) as (client, batch_id):
        started = time.monotonic()
        report = await client.settlement.settle_batch(
            batch_id,
            concurrency=args.concurrency,
            wait_for_confirmation=args.wait_confirmation,
            poll_interval=0.5,
            on_progress=show_progress,
        )
        print_report(report, time.monotonic() - started)
        print(f"calls: {client.stats}")
    return 0 if report.complete else INCOMPLETE


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

"""``kraken-prime demo``: the main job against the embedded sandbox, end to end.

Create a Trader user and a key, book trades, snapshot a batch with the new key, settle every leg
concurrently with a progress bar while the sandbox reorders requests and loses answers, and print
a summary. Exits non-zero if any leg did not settle.
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal

from .._client import PrimeClient
from ..sandbox import PrimeSandbox
from ._output import emit_json
from ._progress import ProgressBar

#: Nonce window given to the demo's Trader key, in milliseconds (Kraken support suggests 10-15 s
#: for clients that send concurrently). The sandbox's random latency reorders requests within it.
DEMO_NONCE_WINDOW_MS = 10_000


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def run_demo(*, legs: int = 12, concurrency: int = 4, as_json: bool = False) -> int:
    """Run the demo; return the exit code."""
    started = time.perf_counter()
    async with PrimeSandbox(latency=(0.0, 0.01), seed=7) as sb:
        say(f"kraken-prime demo: embedded Kraken Prime sandbox at {sb.url}")
        async with PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url) as owner:
            user = await owner.api_users.create(name="Desk A", role="Trader")
            say(f"1. created Trader user {user.name!r} ({user.id})")
            key = await owner.api_user_keys.create(user.id)
            say(f"2. created key {key.api_key} (its secret, shown once: {key.api_secret})")
        sb.set_nonce_window(key.api_key, DEMO_NONCE_WINDOW_MS)
        for index in range(legs):
            sb.add_trade(f"AS{index:02d}", Decimal(index + 1) / 4)
        say(f"3. booked {legs} trades over {legs} assets")

        async with PrimeClient(
            key.api_key,
            key.api_secret.get_secret_value(),
            base_url=sb.url,
            nonce_window=DEMO_NONCE_WINDOW_MS,  # requests may overlap within the key's window
        ) as trader:
            batch = await trader.settlement.create_batch()
            trades = batch.attributes.trade_count
            say(f"4. snapshotted batch {batch.id}: {len(batch.legs)} legs, {trades} trades")
            sb.confirm_batch(batch.id)
            say("5. Kraken confirmed the batch (the sandbox does it on request)")
            sb.faults.add("SettlePrimeSettlementBatchAsset", "drop_after")
            sb.faults.add(
                "SettlePrimeSettlementBatchAsset", "error", message="EService:Unavailable"
            )
            say(
                f"6. settling every leg, {concurrency} at a time; the sandbox loses one answer "
                "after settling and answers one EService:Unavailable"
            )
            report = await trader.settlement.settle_batch(
                batch.id, concurrency=concurrency, on_progress=None if as_json else ProgressBar()
            )
            sb.complete_transfers(batch.id)
            say("7. Kraken completed the transfers (the sandbox does it on request)")
            final = await trader.settlement.get_batch(batch.id)
            stats = trader.stats
        settle_calls = sb.calls("SettlePrimeSettlementBatchAsset")
        processed = sum(1 for record in settle_calls if record.processed)
    elapsed = time.perf_counter() - started
    summary = {
        "batch_id": batch.id,
        "batch_status": final.attributes.status,
        "legs": len(report.legs),
        "settled": len(report.settled),
        "skipped": len(report.skipped),
        "failed": len(report.failed),
        "unknown": len(report.unknown),
        "settle_requests": len(settle_calls),
        "transfers_started": processed,
        "attempts": stats.attempts,
        "retries": stats.retries,
        "nonce_rejections": stats.nonce_rejections,
        "rate_limit_waits": stats.rate_limit_waits,
        "elapsed_seconds": round(elapsed, 3),
    }
    if as_json:
        emit_json(summary)
    else:
        width = max(len(name) for name in summary)
        for name, value in summary.items():
            print(f"  {name.replace('_', ' ').ljust(width)}  {value}")
    ok = report.complete and processed == legs
    if not ok:
        say("demo FAILED: not every leg settled exactly once")
    return 0 if ok else 1

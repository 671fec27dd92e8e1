"""``kraken-prime demo``: the main job against the embedded sandbox, end to end.

Create a Trader user and a key, book trades in real asset codes, snapshot a batch with the new
key, settle every leg concurrently with a progress bar while the sandbox reorders requests, loses
one answer after settling and refuses one request, and end with the counters, a legend and one
verdict line. Exits non-zero unless every leg settled exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from .._client import PrimeClient
from ..errors import ValidationError
from ..models import Batch, CreatedApiKey, SettlementReport
from ..sandbox import PrimeSandbox
from ._args import leaf
from ._batches import counters, print_legend, verdict
from ._console import err, line, plural, say
from ._errors import EXIT_OK, EXIT_REFUSED
from ._output import emit_json
from ._progress import SettleProgress

if TYPE_CHECKING:
    from ._args import Subparsers

#: Nonce window given to the demo's Trader key, in milliseconds (Kraken support suggests 10-15 s
#: for clients that send concurrently). The sandbox's random latency reorders requests within it.
DEMO_NONCE_WINDOW_MS: Final = 10_000
WINDOW_S: Final = DEMO_NONCE_WINDOW_MS / 1000

#: The demo's book: asset codes as Kraken writes them, with a net amount each (sold < 0).
BOOK: Final = (
    ("BTC", "0.75"),
    ("ETH", "-12.5"),
    ("USD", "-48250.00"),
    ("EUR", "15000.00"),
    ("SOL", "310"),
    ("XRP", "-25000"),
    ("ADA", "40000"),
    ("DOT", "-1200"),
    ("USDT", "9800.50"),
    ("USDC", "-7500"),
    ("LTC", "42.3"),
    ("DOGE", "150000"),
    ("LINK", "-640"),
    ("AVAX", "85"),
    ("GBP", "-3200.00"),
    ("ATOM", "410"),
    ("XLM", "-52000"),
    ("TRX", "73000"),
    ("ALGO", "-18000"),
    ("MATIC", "9100"),
)
SETTLE: Final = "SettlePrimeSettlementBatchAsset"


def register(commands: Subparsers) -> None:
    """``demo``."""
    run_demo_ = leaf(commands, "demo", "run the main job against the embedded sandbox")
    run_demo_.add_argument("--legs", type=int, default=12, help=f"legs to settle (1-{len(BOOK)})")
    run_demo_.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help=f"legs worked on at once (the demo's key has a {WINDOW_S:g} s nonce window, so "
        "their requests overlap)",
    )
    run_demo_.set_defaults(run=demo, rerun_safe=True)


def check_legs(legs: int) -> int:
    """``--legs`` within the demo's book."""
    if not 1 <= legs <= len(BOOK):
        raise ValidationError("--legs", f"must be between 1 and {len(BOOK)} (one leg per asset)")
    return legs


async def demo(args: argparse.Namespace) -> int:
    legs = check_legs(args.legs)
    try:
        return await run_demo(legs=legs, concurrency=args.concurrency, as_json=args.json)
    except (asyncio.CancelledError, KeyboardInterrupt):
        args.done = "the demo stopped and its sandbox is gone (each run starts a fresh one)"
        raise


async def _set_up(sb: PrimeSandbox, legs: int) -> CreatedApiKey:
    """Steps 1-3: a Trader user and its key (as the owner would), and the day's trades."""
    async with PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url) as owner:
        user = await owner.api_users.create(name="Desk A", role="Trader")
        say(f"1. created Trader user {user.name!r} ({user.id})")
        key = await owner.api_user_keys.create(user.id)
        say(f"2. created key {key.api_key} (its secret stays in memory: {key.api_secret})")
    sb.set_nonce_window(key.api_key, DEMO_NONCE_WINDOW_MS)
    for asset, amount in BOOK[:legs]:
        sb.add_trade(asset, Decimal(amount))
    say(f"3. booked {legs} trades: {', '.join(asset for asset, _ in BOOK[:legs])}")
    return key


async def _settle(
    sb: PrimeSandbox, trader: PrimeClient, concurrency: int, as_json: bool
) -> tuple[Batch, SettlementReport]:
    """Steps 4-7, with the Trader's key: snapshot, confirm, settle under faults, complete."""
    batch = await trader.settlement.create_batch()
    trades = batch.attributes.trade_count
    say(f"4. snapshotted batch {batch.id}: {len(batch.legs)} legs, {trades} trades")
    sb.confirm_batch(batch.id)
    say("5. Kraken confirmed the batch (the sandbox does it on request)")
    sb.faults.add(SETTLE, "drop_after")
    sb.faults.add(SETTLE, "error", message="EService:Unavailable")
    say(
        f"6. settling every leg, up to {concurrency} at once: the key's {WINDOW_S:g} s nonce "
        "window lets requests overlap (with Kraken's default window of 0 they would go one at "
        "a time); the sandbox loses one answer after settling and answers one EService:Unavailable"
    )
    with SettleProgress(err(), enabled=not as_json) as progress:
        report = await trader.settlement.settle_batch(
            batch.id, concurrency=concurrency, on_progress=progress.callback
        )
    sb.complete_transfers(batch.id)
    say("7. Kraken completed the transfers (the sandbox does it on request)")
    return await trader.settlement.get_batch(batch.id), report


async def run_demo(*, legs: int = 12, concurrency: int = 4, as_json: bool = False) -> int:
    """Run the demo; return the exit code."""
    started = time.perf_counter()
    async with PrimeSandbox(latency=(0.0, 0.01), seed=7) as sb:
        say(f"kraken-prime demo: embedded Kraken Prime sandbox at {sb.url}")
        key = await _set_up(sb, legs)
        async with PrimeClient(
            key.api_key,
            key.api_secret.get_secret_value(),
            base_url=sb.url,
            nonce_window=DEMO_NONCE_WINDOW_MS,  # requests may overlap within the key's window
        ) as trader:
            final, report = await _settle(sb, trader, concurrency, as_json)
            numbers = counters(report, trader.stats)
        settle_calls = sb.calls(SETTLE)
        processed = sum(1 for record in settle_calls if record.processed)
    summary = {
        "batch_id": final.id,
        "batch_status": final.attributes.status,
        "legs": len(report.legs),
        "settled": len(report.settled),
        "skipped": len(report.skipped),
        "failed": len(report.failed),
        "unknown": len(report.unknown),
        "settle_requests": len(settle_calls),
        "transfers_started": processed,
        **numbers,
        "elapsed_seconds": round(time.perf_counter() - started, 3),
        "verdict": verdict(report),
    }
    if as_json:
        emit_json(summary)
    else:
        requests = plural(len(settle_calls), "settle request")
        line(
            f"batch {final.id} is {final.attributes.status}; {requests} for "
            f"{plural(legs, 'leg')}, {plural(processed, 'transfer')} started"
        )
        print_legend(numbers)
        line(verdict(report))
    if not (report.complete and processed == legs):
        say("demo FAILED: not every leg settled exactly once")
        return EXIT_REFUSED
    return EXIT_OK

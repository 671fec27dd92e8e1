"""``batches {list,get,create}`` and ``settle``, and the verdict that ends a settlement run."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

from .._stats import ClientStats
from ..models import AssetKind, Batch, BatchStatus, SettlementReport
from ._args import group, leaf, values
from ._config import client_from
from ._console import err, line, out, plural, print_fields, print_table, say
from ._errors import EXIT_INCOMPLETE, EXIT_OK
from ._output import emit_json, iso_ms, iso_time
from ._progress import SettleProgress

if TYPE_CHECKING:
    from ._args import Subparsers

BATCH_COLUMNS = ("id", "status", "conf", "legs", "created", "updated")
LEG_COLUMNS = ("asset", "amount", "direction", "status", "can_settle", "settled_at", "transfer")
REPORT_COLUMNS = ("asset", "result", "reason")

LEGEND = (
    "  retries     sent again, fresh nonce each, only when Kraken certainly did",
    "              nothing (refused it, or a fenced read-back showed it not applied)",
    "  read-backs  answer lost after sending: the batch was read, behind a nonce",
    "              fence, to learn the leg's state; no settle takes effect twice",
)


def register(commands: Subparsers) -> None:
    """``batches {list,get,create}`` and ``settle``."""
    batches = group(commands, "batches", "settlement batches")
    listing = leaf(batches, "list", "list batches, newest first, one line each", signs=True)
    listing.add_argument(
        "--status", action="append", choices=values(BatchStatus), help="filter; repeat for several"
    )
    listing.add_argument("--limit", type=int, help="batches per page (1-200)")
    listing.add_argument("--offset", type=int, help="batches to skip")
    listing.set_defaults(run=batches_list)
    get = leaf(batches, "get", "show a batch and its legs", signs=True)
    get.add_argument("batch_id", help="the batch's id")
    get.set_defaults(run=batches_get)
    create = leaf(batches, "create", "snapshot the unsettled trades into a batch", signs=True)
    create.add_argument(
        "--asset-kind", choices=values(AssetKind), help="positions to include (Kraken: currency)"
    )
    create.set_defaults(run=batches_create)
    _register_settle(commands)


def _register_settle(commands: Subparsers) -> None:
    settle_ = leaf(
        commands, "settle", "settle every eligible leg of a batch (safe to re-run)", signs=True
    )
    settle_.add_argument("batch_id", help="the batch's id")
    settle_.add_argument("--asset", help="settle only this asset's leg")
    settle_.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="legs worked on at once; their requests overlap only if the key has a nonce window "
        "(KRAKEN_PRIME_NONCE_WINDOW, set on the key at Kraken too): with Kraken's default of 0 "
        "they go one at a time",
    )
    settle_.add_argument(
        "--wait-confirmation",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for Kraken to confirm the batch",
    )
    settle_.set_defaults(run=settle, rerun_safe=True)


def batch_row(batch: Batch) -> dict[str, Any]:
    """One line of ``batches list``: legs as ``count assets``, times to the minute (80 columns)."""
    attrs = batch.attributes
    return {
        "id": batch.id,
        "status": attrs.status,
        "conf": attrs.confirmed,
        "legs": f"{len(batch.legs)} {','.join(leg.asset for leg in batch.legs)}".strip(),
        "created": iso_ms(attrs.created_at, seconds=False),
        "updated": iso_ms(attrs.updated_at, seconds=False),
    }


def _leg_rows(batch: Batch) -> list[dict[str, Any]]:
    rows = []
    for leg in batch.legs:
        transfer = leg.latest_spot_transfer or {}
        rows.append(
            {
                "asset": leg.asset,
                "amount": leg.amount_text,
                "direction": leg.direction,
                "status": leg.status,
                "can_settle": leg.can_settle,
                "settled_at": iso_time(leg.settled_at),
                "transfer": transfer.get("id") or transfer.get("transfer_id"),
            }
        )
    return rows


async def batches_list(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        page = await client.settlement.list_batches(
            statuses=args.status, limit=args.limit, offset=args.offset
        )
    if args.json:
        emit_json(page)
        return EXIT_OK
    print_table([batch_row(b) for b in page.data], BATCH_COLUMNS, wrap=("legs",))
    if page.pagination.has_more:
        say(f"(more batches: add --offset {(args.offset or 0) + len(page.data)})")
    return EXIT_OK


async def batches_get(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        batch = await client.settlement.get_batch(args.batch_id)
    if args.json:
        emit_json(batch)
        return EXIT_OK
    attrs = batch.attributes
    print_fields(
        {
            "batch": batch.id,
            "status": attrs.status,
            "confirmed": attrs.confirmed,
            "asset kind": attrs.asset_kind,
            "trades": attrs.trade_count,
            "created": iso_ms(attrs.created_at),
            "updated": iso_ms(attrs.updated_at),
        }
    )
    out().print()
    print_table(_leg_rows(batch), LEG_COLUMNS, title=plural(len(batch.legs), "leg"))
    return EXIT_OK


async def batches_create(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        batch = await client.settlement.create_batch(args.asset_kind)
    if args.json:
        emit_json(batch)
    else:
        print_table([batch_row(batch)], BATCH_COLUMNS, wrap=("legs",))
    return EXIT_OK


def read_backs(report: SettlementReport) -> int:
    """Legs whose settle answer was lost and whose outcome was read from the batch."""
    return sum(
        1 for leg in report.legs if leg.reason is not None and leg.reason.startswith("answer lost")
    )


def verdict(report: SettlementReport) -> str:
    """One line: ``12 legs: 12 settled exactly once, 0 failed, 0 unknown``."""
    parts = [f"{len(report.settled)} settled exactly once"]
    if report.skipped:
        reasons = sorted({leg.reason or "nothing to do" for leg in report.skipped})
        parts.append(f"{len(report.skipped)} skipped ({'; '.join(reasons)})")
    parts += [f"{len(report.failed)} failed", f"{len(report.unknown)} unknown"]
    return f"{len(report.legs)} legs: {', '.join(parts)}"


def counters(report: SettlementReport, stats: ClientStats) -> dict[str, int]:
    """The numbers the legend explains."""
    return {
        "attempts": stats.attempts,
        "retries": stats.retries,
        "read_backs": read_backs(report),
        "nonce_rejections": stats.nonce_rejections,
        "rate_limit_waits": stats.rate_limit_waits,
    }


def print_legend(numbers: dict[str, int]) -> None:
    """The counters on one line, then what they mean."""
    console = out()
    console.print(", ".join(f"{name.replace('_', '-')} {value}" for name, value in numbers.items()))
    for explained in LEGEND:
        console.print(explained)


def report_json(report: SettlementReport, numbers: dict[str, int]) -> dict[str, Any]:
    """``settle --json``'s document."""
    return {
        "batch_id": report.batch_id,
        "confirmed": report.confirmed,
        "complete": report.complete,
        "legs": [
            {"asset": leg.asset, "result": leg.result, "reason": leg.reason} for leg in report.legs
        ],
        **numbers,
        "verdict": verdict(report),
    }


async def settle(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        if args.asset:
            transfer = await client.settlement.settle_asset(args.batch_id, args.asset)
            if args.json:
                emit_json(transfer)
            else:
                attrs = transfer.attributes
                row = {
                    "transfer": transfer.id,
                    "asset": attrs.transfer_asset,
                    "amount": attrs.transfer_amount,
                    "status": attrs.transfer_status,
                }
                print_table([row], ("transfer", "asset", "amount", "status"))
            return EXIT_OK
        if args.wait_confirmation > 0:
            batch = await client.settlement.get_batch(args.batch_id)
            if not batch.attributes.confirmed:
                say(
                    f"batch {batch.id} is not confirmed yet: waiting up to "
                    f"{args.wait_confirmation:g} s for Kraken to confirm it"
                )
        label = f"settling {args.batch_id}"
        with SettleProgress(err(), label=label, enabled=not args.json) as progress:
            try:
                report = await client.settlement.settle_batch(
                    args.batch_id,
                    concurrency=args.concurrency,
                    wait_for_confirmation=args.wait_confirmation,
                    on_progress=progress.callback,
                )
            except (asyncio.CancelledError, KeyboardInterrupt):
                args.done = f"{progress.summary()} (batch {args.batch_id})"
                raise
        numbers = counters(report, client.stats)
    if args.json:
        emit_json(report_json(report, numbers))
    else:
        rows = [{"asset": x.asset, "result": x.result, "reason": x.reason} for x in report.legs]
        print_table(rows, REPORT_COLUMNS, wrap=("reason",))
        print_legend(numbers)
        line(verdict(report))
    return EXIT_OK if report.complete else EXIT_INCOMPLETE

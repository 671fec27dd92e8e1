"""``batches {list,get,create}`` and ``settle``, and the verdict that ends a settlement run."""

from __future__ import annotations

import argparse
from typing import Any

from .._stats import ClientStats
from ..models import Batch, SettlementReport
from ._config import client_from
from ._console import err, out, print_fields, print_table, say
from ._errors import EXIT_INCOMPLETE, EXIT_OK
from ._output import emit_json, iso_ms
from ._progress import SettleProgress

BATCH_COLUMNS = ("id", "status", "conf", "legs", "created", "updated")
LEG_COLUMNS = ("asset", "amount", "direction", "status", "can_settle", "settled_at", "transfer")
REPORT_COLUMNS = ("asset", "result", "reason")

LEGEND = (
    "  retries     sent again, fresh nonce each, only when Kraken certainly did",
    "              nothing (refused it, or a fenced read-back showed it not applied)",
    "  read-backs  answer lost after sending: the batch was read, behind a nonce",
    "              fence, to learn the leg's state; no settle takes effect twice",
)


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
                "settled_at": leg.settled_at,
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
    print_table([batch_row(b) for b in page.data], BATCH_COLUMNS, squeeze=("legs",))
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
    print_table(_leg_rows(batch), LEG_COLUMNS, title=f"{len(batch.legs)} legs")
    return EXIT_OK


async def batches_create(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        batch = await client.settlement.create_batch(args.asset_kind)
    if args.json:
        emit_json(batch)
    else:
        print_table([batch_row(batch)], BATCH_COLUMNS, squeeze=("legs",))
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
    for line in LEGEND:
        console.print(line)


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
            say(f"an unconfirmed batch is waited for up to {args.wait_confirmation:g} s")
        label = f"settling {args.batch_id}"
        with SettleProgress(err(), label=label, enabled=not args.json) as progress:
            report = await client.settlement.settle_batch(
                args.batch_id,
                concurrency=args.concurrency,
                wait_for_confirmation=args.wait_confirmation,
                on_progress=progress.callback,
            )
        numbers = counters(report, client.stats)
    if args.json:
        emit_json(report_json(report, numbers))
    else:
        rows = [{"asset": x.asset, "result": x.result, "reason": x.reason} for x in report.legs]
        print_table(rows, REPORT_COLUMNS)
        print_legend(numbers)
        out().print(verdict(report))
    return EXIT_OK if report.complete else EXIT_INCOMPLETE

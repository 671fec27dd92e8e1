"""The two answers the loopback server sends, built deterministically and encoded once.

* ``tiny``: a ``ListPrimeApiUsers`` result with one user.
* ``large``: a ``ListPrimeSettlementBatches`` page of 200 batches with 5 legs each.
"""

from __future__ import annotations

import random
from typing import Any

import msgspec

TINY_METHOD = "ListPrimeApiUsers"
LARGE_METHOD = "ListPrimeSettlementBatches"
LARGE_BATCHES = 200
LEGS_PER_BATCH = 5
TRADES_PER_BATCH = 10

_ASSETS = ("XBT", "ETH", "USD", "EUR", "SOL", "USDC", "USDT", "DOT", "ADA", "LTC")
_BATCH_STATUSES = ("unsettled", "partially_settled", "settled", "completed")
_LEG_STATUSES = ("unsettled", "pending", "settled")


def _envelope(result: Any) -> bytes:
    return msgspec.json.encode({"error": [], "result": result})


def tiny_result() -> dict[str, Any]:
    return {
        "data": [{"id": "AU_BENCH1", "name": "bench", "status": "Enabled", "roles": ["Trader"]}]
    }


def _leg(rng: random.Random, asset: str, settled: bool) -> dict[str, Any]:
    return {
        "status": rng.choice(_LEG_STATUSES),
        "asset": asset,
        "amount": f"{rng.uniform(-50_000, 50_000):.8f}",
        "direction": rng.choice(("receive", "send")),
        "can_settle": rng.random() < 0.5,
        "settled_at": rng.randrange(1_700_000_000_000, 1_760_000_000_000) if settled else None,
        "latest_spot_transfer": {},
    }


def _batch(rng: random.Random, index: int) -> dict[str, Any]:
    created = 1_760_000_000_000 - index * 3_600_000
    status = rng.choice(_BATCH_STATUSES)
    return {
        "id": f"B_{rng.getrandbits(64):016X}",
        "attributes": {
            "status": status,
            "confirmed": status != "unsettled",
            "created_at": created,
            "updated_at": created + rng.randrange(0, 3_600_000),
            "trade_count": TRADES_PER_BATCH,
            "asset_kind": "currency",
        },
        "legs": [
            _leg(rng, asset, status == "settled") for asset in rng.sample(_ASSETS, LEGS_PER_BATCH)
        ],
        "trade_ids": [f"T{rng.getrandbits(40):010X}" for _ in range(TRADES_PER_BATCH)],
    }


def large_result(batches: int = LARGE_BATCHES) -> dict[str, Any]:
    rng = random.Random(20_240_601)
    return {
        "data": [_batch(rng, i) for i in range(batches)],
        "pagination": {"has_more": True, "limit": batches, "offset": 0},
    }


def tiny_body() -> bytes:
    """The full JSON answer (envelope included) of the tiny call."""
    return _envelope(tiny_result())


def large_body() -> bytes:
    """The full JSON answer (envelope included) of the large call."""
    return _envelope(large_result())

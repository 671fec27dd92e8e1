"""Settlement: netting, one active batch per kind, confirmation, settle lifecycle, listing."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from tests.sandbox._support import START, FakeClock, running, user_caller

SETTLE = "SettlePrimeSettlementBatchAsset"


async def test_batch_snapshot_nets_trades_per_asset() -> None:
    clock = FakeClock()
    async with running(clock=clock) as (sb, owner):
        t1 = sb.add_trade("BTC", "1.5")
        t2 = sb.add_trade("BTC", Decimal("-0.25"))
        t3 = sb.add_trade("USD", "-50000.10")
        sb.add_trade("AAPLx", "3", asset_kind="tokenized_equity")
        assert uuid.UUID(t1).version == 4

        batch = (await owner.ok("CreatePrimeSettlementBatch"))["batch"]
        assert batch["id"].startswith("B_")
        assert len(batch["id"]) == 10
        assert batch["attributes"] == {
            "status": "unsettled",
            "confirmed": False,
            "created_at": int(START * 1000),
            "updated_at": int(START * 1000),
            "trade_count": 3,
            "asset_kind": "currency",
        }
        assert batch["trade_ids"] == [t1, t2, t3]
        assert batch["legs"] == [
            {
                "status": "unsettled",
                "asset": "BTC",
                "amount": "1.25",
                "direction": "incoming",
                "can_settle": True,
                "settled_at": None,
                "latest_spot_transfer": {},
            },
            {
                "status": "unsettled",
                "asset": "USD",
                "amount": "-50000.10",
                "direction": "outgoing",
                "can_settle": True,
                "settled_at": None,
                "latest_spot_transfer": {},
            },
        ]
        got = await owner.ok("GetPrimeSettlementBatch", batch_id=batch["id"])
        assert got == {"batch": batch}
        assert sb.batch(batch["id"]) == batch

        equity = await owner.ok("CreatePrimeSettlementBatch", asset_kind="tokenized_equity")
        assert equity["batch"]["attributes"]["asset_kind"] == "tokenized_equity"
        assert [leg["asset"] for leg in equity["batch"]["legs"]] == ["AAPLx"]


async def test_one_active_batch_per_kind_and_no_trades() -> None:
    async with running() as (sb, owner):
        reply = await owner.call("CreatePrimeSettlementBatch")
        assert reply.errors == ["EGeneral:Invalid arguments:no unsettled trades"]
        sb.add_trade("BTC", "1")
        await owner.ok("CreatePrimeSettlementBatch", asset_kind="currency")
        sb.add_trade("ETH", "2")
        reply = await owner.call("CreatePrimeSettlementBatch")
        assert reply.errors == ["EGeneral:Invalid arguments:active batch exists"]
        sb.add_trade("AAPLx", "1", asset_kind="tokenized_equity")
        await owner.ok("CreatePrimeSettlementBatch", asset_kind="tokenized_equity")


async def test_settle_requires_confirmation_and_never_twice() -> None:
    clock = FakeClock()
    async with running(clock=clock) as (sb, owner):
        sb.add_trade("BTC", "1.5")
        sb.add_trade("ETH", "-3")
        sb.add_trade("SOL", "2")
        sb.add_trade("SOL", "-2")
        batch_id = (await owner.ok("CreatePrimeSettlementBatch"))["batch"]["id"]

        reply = await owner.call(SETTLE, batch_id=batch_id, asset="BTC")
        assert reply.errors == ["EGeneral:Invalid arguments:batch not confirmed"]
        sb.confirm_batch(batch_id)
        assert sb.batch(batch_id)["attributes"]["confirmed"] is True

        clock.advance(1)
        transfer = await owner.ok(SETTLE, batch_id=batch_id, asset="BTC")
        assert transfer == {
            "transfer": {
                "id": transfer["transfer"]["id"],
                "attributes": {
                    "transfer_status": "pending",
                    "transfer_amount": "1.5",
                    "transfer_asset": "BTC",
                },
                "relationships": {
                    "leg": {
                        "status": "settling",
                        "asset": "BTC",
                        "amount": "1.5",
                        "direction": "incoming",
                        "can_settle": False,
                        "settled_at": None,
                        "latest_spot_transfer": {
                            "id": transfer["transfer"]["id"],
                            "status": "pending",
                            "amount": "1.5",
                            "asset": "BTC",
                        },
                    }
                },
            }
        }
        assert transfer["transfer"]["id"].isdigit()
        batch = sb.batch(batch_id)
        assert batch["attributes"]["status"] == "partially_settled"
        assert batch["attributes"]["updated_at"] == int((START + 1) * 1000)

        twice = await owner.call(SETTLE, batch_id=batch_id, asset="BTC")
        assert twice.errors == ["EGeneral:Invalid arguments:leg already settling"]
        zero = await owner.call(SETTLE, batch_id=batch_id, asset="SOL")
        assert zero.errors == ["EGeneral:Invalid arguments:leg not settleable"]
        missing = await owner.call(SETTLE, batch_id=batch_id, asset="XRP")
        assert missing.errors == ["EGeneral:Invalid arguments:unknown asset"]
        unknown = await owner.call(SETTLE, batch_id="B_NOPE", asset="BTC")
        assert unknown.errors == ["EGeneral:Invalid arguments:unknown batch_id"]

        clock.advance(1)
        assert sb.complete_transfers() == [transfer["transfer"]["id"]]
        btc = sb.batch(batch_id)["legs"][0]
        assert btc["status"] == "settled"
        assert btc["settled_at"] == int((START + 2) * 1000)
        assert btc["latest_spot_transfer"]["status"] == "settled"
        done = await owner.call(SETTLE, batch_id=batch_id, asset="BTC")
        assert done.errors == ["EGeneral:Invalid arguments:leg already settled"]

        await owner.ok(SETTLE, batch_id=batch_id, asset="ETH")
        assert sb.batch(batch_id)["attributes"]["status"] == "partially_settled"
        assert sb.complete_transfers(batch_id) != []
        assert sb.complete_transfers() == []
        final = (await owner.ok("GetPrimeSettlementBatch", batch_id=batch_id))["batch"]
        assert final["attributes"]["status"] == "settled"
        assert [leg["status"] for leg in final["legs"]] == ["settled", "settled", "unsettled"]

        # Settled batch is no longer active: a new one can be created.
        sb.add_trade("BTC", "1")
        await owner.ok("CreatePrimeSettlementBatch")
        assert len(sb.calls(SETTLE)) == 8


async def test_auto_confirm_after_uses_sandbox_clock() -> None:
    clock = FakeClock()
    async with running(clock=clock, auto_confirm_after=30.0) as (sb, owner):
        sb.add_trade("BTC", "1")
        batch_id = (await owner.ok("CreatePrimeSettlementBatch"))["batch"]["id"]
        clock.advance(29)
        got = await owner.ok("GetPrimeSettlementBatch", batch_id=batch_id)
        assert got["batch"]["attributes"]["confirmed"] is False
        clock.advance(1)
        got = await owner.ok("GetPrimeSettlementBatch", batch_id=batch_id)
        assert got["batch"]["attributes"]["confirmed"] is True
        await owner.ok(SETTLE, batch_id=batch_id, asset="BTC")


async def test_viewer_reads_but_cannot_create_or_settle() -> None:
    async with running() as (sb, owner):
        viewer, _, _ = await user_caller(owner, "Viewer")
        trader, trader_id, _ = await user_caller(owner, "Trader")
        sb.add_trade("BTC", "1")
        denied = await viewer.call("CreatePrimeSettlementBatch")
        assert denied.errors == ["EGeneral:Permission denied"]
        batch_id = (await trader.ok("CreatePrimeSettlementBatch"))["batch"]["id"]
        sb.confirm_batch(batch_id)
        assert (await viewer.ok("GetPrimeSettlementBatch", batch_id=batch_id))["batch"]
        assert len((await viewer.ok("ListPrimeSettlementBatches"))["data"]) == 1
        denied = await viewer.call(SETTLE, batch_id=batch_id, asset="BTC")
        assert denied.errors == ["EGeneral:Permission denied"]
        assert sb.batch(batch_id)["legs"][0]["status"] == "unsettled"
        await owner.ok("UpdatePrimeApiUserRoles", user_id=trader_id, role="Viewer")
        demoted = await trader.call(SETTLE, batch_id=batch_id, asset="BTC")
        assert demoted.errors == ["EGeneral:Permission denied"]


async def test_list_pagination_and_filters() -> None:
    clock = FakeClock()
    async with running(clock=clock) as (sb, owner):
        ids: list[str] = []
        for i in range(5):
            sb.add_trade("BTC", str(i + 1))
            batch_id = (await owner.ok("CreatePrimeSettlementBatch"))["batch"]["id"]
            ids.append(batch_id)
            if i < 4:  # settle all but the last, so the next create is allowed
                sb.confirm_batch(batch_id)
                await owner.ok(SETTLE, batch_id=batch_id, asset="BTC")
                sb.complete_transfers()
            clock.advance(10)
        created = [int((START + 10 * i) * 1000) for i in range(5)]

        page = await owner.ok("ListPrimeSettlementBatches", limit=2)
        assert [b["id"] for b in page["data"]] == [ids[4], ids[3]]
        assert page["pagination"] == {"has_more": True, "limit": 2, "offset": 0}
        page = await owner.ok("ListPrimeSettlementBatches", limit=2, offset=4)
        assert [b["id"] for b in page["data"]] == [ids[0]]
        assert page["pagination"] == {"has_more": False, "limit": 2, "offset": 4}
        default = await owner.ok("ListPrimeSettlementBatches")
        assert default["pagination"]["limit"] == 50
        assert len(default["data"]) == 5

        window = await owner.ok(
            "ListPrimeSettlementBatches", **{"from": created[1]}, until=created[3]
        )
        assert [b["id"] for b in window["data"]] == [ids[3], ids[2]]

        open_ = await owner.ok("ListPrimeSettlementBatches", statuses=["unsettled"])
        assert [b["id"] for b in open_["data"]] == [ids[4]]
        settled = await owner.ok("ListPrimeSettlementBatches", statuses=["settled", "completed"])
        assert len(settled["data"]) == 4

        equity = await owner.ok("ListPrimeSettlementBatches", asset_kind="tokenized_equity")
        assert equity["data"] == []
        spot = await owner.ok("ListPrimeSettlementBatches", asset_kind="spot")
        assert len(spot["data"]) == 5


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "5"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"statuses": ["open"]}, "statuses"),
        ({"statuses": "unsettled"}, "statuses"),
        ({"asset_kind": "bonds"}, "asset_kind"),
        ({"page": 1}, "page"),
    ],
)
async def test_list_rejects_bad_arguments(params: dict[str, Any], field: str) -> None:
    async with running() as (_sb, owner):
        reply = await owner.call("ListPrimeSettlementBatches", **params)
        assert reply.errors == [f"EGeneral:Invalid arguments:{field}"]


async def test_helper_input_errors() -> None:
    async with running() as (sb, _owner):
        with pytest.raises(TypeError):
            sb.add_trade("BTC", 1.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="amount"):
            sb.add_trade("BTC", "abc")
        with pytest.raises(ValueError, match="asset_kind"):
            sb.add_trade("BTC", "1", asset_kind="bonds")
        with pytest.raises(ValueError, match="batch_id"):
            sb.confirm_batch("B_NOPE")
        with pytest.raises(ValueError, match="batch_id"):
            sb.batch("B_NOPE")

"""Tag "Settlement": batches, pages, transfers, Decimal amounts, filters."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from kraken_prime_async import AssetKind, BatchStatus, ValidationError
from tests._fakes import BATCH, LEG, ScriptedTransport, make_client, no_batches, ok


async def test_create_batch(transport: ScriptedTransport) -> None:
    transport.queue(no_batches(), ok({"batch": BATCH}), no_batches(), ok({"batch": BATCH}))
    client, _ = make_client(transport)
    batch = await client.settlement.create_batch(AssetKind.CURRENCY)
    assert batch.id == "B_Y7T2LPVX" and batch.trade_ids is not None and len(batch.trade_ids) == 2
    assert batch.attributes.created_at_datetime == datetime(
        2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc
    )
    leg = batch.leg("BTC")
    assert leg is not None and leg.amount == Decimal("1.5") and leg.can_settle is True
    assert leg.latest_spot_transfer == {} and batch.leg("ETH") is None
    assert transport.requests[1].json["asset_kind"] == "currency"
    await client.settlement.create_batch()
    assert "asset_kind" not in transport.requests[3].json


async def test_get_batch_tolerates_missing_and_extra_fields(transport: ScriptedTransport) -> None:
    sparse = {"id": "B1", "legs": [{"asset": "ETH", "direction": "incoming", "new": 1}], "x": {}}
    transport.queue(ok({"batch": sparse}))
    client, _ = make_client(transport)
    batch = await client.settlement.get_batch("B1", asset_kind="spot")
    assert batch.trade_ids is None and batch.attributes.status is None
    assert batch.legs[0].direction == "incoming" and batch.legs[0].amount is None
    assert transport.requests[0].json == {
        "nonce": transport.requests[0].json["nonce"],
        "batch_id": "B1",
        "asset_kind": "spot",
    }


async def test_list_batches_sends_wire_names(transport: ScriptedTransport) -> None:
    page = {"data": [BATCH], "pagination": {"has_more": True, "limit": 20, "offset": 0}}
    transport.queue(ok(page))
    client, _ = make_client(transport)
    since = datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    result = await client.settlement.list_batches(
        statuses=[BatchStatus.UNSETTLED, "partially_settled"],
        from_=since,
        until=1700100000000,
        limit=20,
        offset=0,
    )
    assert result.pagination.has_more and result.data[0].id == "B_Y7T2LPVX"
    body = transport.requests[0].json
    body.pop("nonce")
    assert body == {
        "statuses": ["unsettled", "partially_settled"],
        "from": 1700000000000,
        "until": 1700100000000,
        "limit": 20,
        "offset": 0,
    }


async def test_iter_batches_pages_until_has_more_is_false(transport: ScriptedTransport) -> None:
    first = {"data": [{"id": "B3"}, {"id": "B2"}], "pagination": {"has_more": True}}
    second = {"data": [{"id": "B1"}], "pagination": {"has_more": False}}
    transport.queue(ok(first), ok(second))
    client, _ = make_client(transport)
    ids = [b.id async for b in client.settlement.iter_batches(page_size=2)]
    assert ids == ["B3", "B2", "B1"]
    bodies = [r.json for r in transport.requests]
    assert [b["offset"] for b in bodies] == [0, 2]
    assert bodies[0]["until"] == bodies[1]["until"]  # pinned, so pages do not shift


async def test_settle_asset(transport: ScriptedTransport) -> None:
    transfer = {
        "id": "100",
        "attributes": {
            "transfer_status": "pending",
            "transfer_amount": "1.5",
            "transfer_asset": "BTC",
        },
        "relationships": {"leg": LEG},
    }
    transport.queue(ok({"transfer": transfer}))
    client, _ = make_client(transport)
    result = await client.settlement.settle_asset("B_Y7T2LPVX", "BTC")
    assert result.id == "100" and result.attributes.transfer_amount == Decimal("1.5")
    assert result.relationships.leg is not None and result.relationships.leg.asset == "BTC"
    assert transport.requests[0].json["asset"] == "BTC"


NAIVE = datetime(2024, 1, 1)
AWARE = datetime(2024, 1, 1, tzinfo=timezone.utc)

BAD_CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("create_batch", "asset_kind", {"asset_kind": "spot"}),
    ("create_batch", "asset_kind", {"asset_kind": ""}),
    ("get_batch", "batch_id", {"batch_id": ""}),
    ("get_batch", "asset_kind", {"batch_id": "B", "asset_kind": ""}),
    ("list_batches", "limit", {"limit": 201}),
    ("list_batches", "limit", {"limit": 0}),
    ("list_batches", "limit", {"limit": True}),
    ("list_batches", "offset", {"offset": -1}),
    ("list_batches", "statuses", {"statuses": ["unsettled", "open"]}),
    ("list_batches", "statuses", {"statuses": "unsettled"}),
    ("list_batches", "statuses", {"statuses": []}),
    ("list_batches", "from_", {"from_": NAIVE}),
    ("list_batches", "from_", {"from_": AWARE, "until": AWARE - timedelta(days=1)}),
    ("list_batches", "until", {"until": -5}),
    ("settle_asset", "asset", {"batch_id": "B", "asset": ""}),
    ("settle_asset", "batch_id", {"batch_id": 1, "asset": "BTC"}),
]


@pytest.mark.parametrize(("method", "field", "kwargs"), BAD_CALLS)
async def test_bad_input_names_the_field_and_sends_nothing(
    transport: ScriptedTransport, method: str, field: str, kwargs: dict[str, Any]
) -> None:
    client, _ = make_client(transport)
    with pytest.raises(ValidationError) as info:
        await getattr(client.settlement, method)(**kwargs)
    assert info.value.field == field
    assert transport.requests == []

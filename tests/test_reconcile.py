"""``_resources/_reconcile.py``: each "answer lost → read the state" rule on its own, with a fake
reader, and the resource seam (``Resource._written``) that hands a rule its lost call."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import msgspec
import pytest

from kraken_prime_async import models
from kraken_prime_async._resources import _reconcile
from kraken_prime_async._resources._reconcile import LostAnswer, Outcome, Rule
from kraken_prime_async._resources.fast_api_keys import _Name, _Update
from kraken_prime_async._resources.settlement import CREATE_BATCH, CreateBatch, SettleAsset
from kraken_prime_async.errors import APIConnectionError, OutcomeUnknownError
from tests._fakes import BATCH, LEG, ScriptedTransport, lost, make_client, ok

NOW = 1_700_000_000.0


def _lost(operation: str, request: Any) -> LostAnswer[Any]:
    error = OutcomeUnknownError("lost", operation=operation, arguments={}, attempts=1)
    return LostAnswer(operation, request, error, NOW)


def _batch(batch_id: str, *, kind: str | None = None, leg: dict[str, Any] | None = None) -> Any:
    attributes: dict[str, Any] = {**cast("dict[str, Any]", BATCH["attributes"]), "asset_kind": kind}
    raw = dict(BATCH, id=batch_id, attributes=attributes, legs=[leg or LEG])
    return msgspec.convert(raw, models.Batch)


class Batches:
    """A fake ``client.settlement`` reader: a fixed list of batches, or failing reads."""

    def __init__(self, *batches: models.Batch, fail: bool = False) -> None:
        self.batches = {batch.id: batch for batch in batches}
        self.fail = fail
        self.listed: list[dict[str, Any]] = []

    async def get_batch(self, batch_id: str) -> models.Batch:
        if self.fail:
            raise APIConnectionError("down", sent=False, operation="GetPrimeSettlementBatch")
        return self.batches[batch_id]

    async def list_batches(
        self,
        *,
        statuses: Iterable[str] | None = None,
        from_: int | None = None,
        limit: int | None = None,
    ) -> models.BatchPage:
        if self.fail:
            raise APIConnectionError("down", sent=False, operation="ListPrimeSettlementBatches")
        self.listed.append({"statuses": statuses, "from_": from_, "limit": limit})
        pagination = models.Pagination(has_more=False)
        return models.BatchPage(data=tuple(self.batches.values()), pagination=pagination)


class Keys:
    """A fake ``oauth.fast_api_keys`` reader."""

    def __init__(self, *names: str, fail: bool = False) -> None:
        self.names = names
        self.fail = fail

    async def list(self) -> list[models.FastApiKeyInfo]:
        if self.fail:
            raise APIConnectionError("down", sent=False, operation="ListFastApiKeys")
        return [models.FastApiKeyInfo(api_key_name=name) for name in self.names]


async def test_create_batch_takes_the_one_batch_of_its_kind_since_the_call() -> None:
    reader = Batches(_batch("B1", kind="currency"), _batch("B2", kind="tokenized_equity"))
    found = await _reconcile.CREATE_BATCH.resolve(reader, _lost("Create", CreateBatch()))
    assert found.id == "B1"
    assert reader.listed == [
        {"statuses": ["unsettled"], "from_": int(NOW * 1000) - 60_000, "limit": 200}
    ]


@pytest.mark.parametrize(
    "reader",
    [Batches(), Batches(_batch("B1"), _batch("B2")), Batches(_batch("B1"), fail=True)],
    ids=["none", "two", "unreadable"],
)
async def test_create_batch_reraises_unless_exactly_one(reader: Batches) -> None:
    lost_call = _lost("Create", CreateBatch(asset_kind="currency"))
    with pytest.raises(OutcomeUnknownError) as info:
        await _reconcile.CREATE_BATCH.resolve(reader, lost_call)
    assert info.value is lost_call.error


async def test_settle_asset_returns_the_transfer_the_leg_shows() -> None:
    leg = dict(LEG, status="settling", latest_spot_transfer={"id": "T1", "status": "pending"})
    reader = Batches(_batch("B1", leg=leg))
    lost_call = _lost("Settle", SettleAsset(batch_id="B1", asset="BTC"))
    transfer = await _reconcile.SETTLE_ASSET.resolve(reader, lost_call)
    assert transfer.id == "T1" and transfer.attributes.transfer_status == "pending"
    assert transfer.attributes.transfer_asset == "BTC"


async def test_settle_leg_accepts_a_started_leg_without_a_named_transfer() -> None:
    reader = Batches(_batch("B1", leg=dict(LEG, status="settling")))
    lost_call = _lost("Settle", SettleAsset(batch_id="B1", asset="BTC"))
    assert await _reconcile.SETTLE_LEG.resolve(reader, lost_call) is None
    with pytest.raises(OutcomeUnknownError) as info:
        await _reconcile.SETTLE_ASSET.resolve(reader, lost_call)
    assert info.value is lost_call.error


@pytest.mark.parametrize("rule", [_reconcile.SETTLE_ASSET, _reconcile.SETTLE_LEG])
async def test_settle_reraises_when_the_leg_is_not_shown_started(rule: Rule[Any, Any, Any]) -> None:
    lost_call = _lost("Settle", SettleAsset(batch_id="B1", asset="BTC"))
    for reader in (Batches(_batch("B1")), Batches(_batch("B1"), fail=True)):
        with pytest.raises(OutcomeUnknownError) as info:
            await rule.resolve(reader, lost_call)
        assert info.value is lost_call.error


@pytest.mark.parametrize(
    ("reader", "message"),
    [
        (Keys("k1"), "now exists: it was created"),
        (Keys(), "it was not created"),
        (Keys(fail=True), "could not be read back"),
    ],
)
async def test_fast_api_create_always_raises_and_says_what_it_read(
    reader: Keys, message: str
) -> None:
    lost_call = _lost("CreateFastApiKey", _Name(api_key_name="k1"))
    with pytest.raises(OutcomeUnknownError, match=message) as info:
        await _reconcile.FAST_API_CREATE.resolve(reader, lost_call)
    assert info.value.__cause__ is lost_call.error
    assert info.value.operation == "CreateFastApiKey"


async def test_fast_api_rename_and_delete_read_the_names() -> None:
    rename = _lost("UpdateFastApiKey", _Update(api_key_name="old", new_api_key_name="new"))
    assert await _reconcile.FAST_API_RENAME.resolve(Keys("new"), rename) is True
    for reader in (Keys("old", "new"), Keys("old"), Keys(fail=True)):
        with pytest.raises(OutcomeUnknownError, match="UpdateFastApiKey: the answer was lost"):
            await _reconcile.FAST_API_RENAME.resolve(reader, rename)
    delete = _lost("DeleteFastApiKey", _Name(api_key_name="old"))
    assert await _reconcile.FAST_API_DELETE.resolve(Keys("new"), delete) is True
    with pytest.raises(OutcomeUnknownError, match="still exists"):
        await _reconcile.FAST_API_DELETE.resolve(Keys("old"), delete)


async def test_written_hands_the_rule_the_lost_call_and_reports_the_read_back(
    transport: ScriptedTransport,
) -> None:
    seen: list[tuple[object, LostAnswer[Any]]] = []

    async def before(reader: object, request: object) -> object:
        return "read before sending"

    async def resolve(reader: object, lost_call: LostAnswer[Any]) -> str:
        seen.append((reader, lost_call))
        return "from the read-back"

    transport.queue(ok({"batch": BATCH}), lost("CreatePrimeSettlementBatch"))
    client, clock = make_client(transport)
    rule: Rule[Any, Any, str] = Rule(resolve, before=before)
    settlement = client.settlement
    request = CreateBatch(asset_kind="currency")
    sent = await settlement._written(CREATE_BATCH, request, reconcile=rule)
    assert isinstance(sent.value, models.Batch) and sent.read_back is False and not seen
    started = clock()
    read = await settlement._written(CREATE_BATCH, request, reconcile=rule)
    assert read == Outcome("from the read-back", read_back=True)
    reader, lost_call = seen[0]
    assert reader is settlement and lost_call.request is request
    assert lost_call.operation == "CreatePrimeSettlementBatch" and lost_call.started_at == started
    assert lost_call.before == "read before sending"
    assert isinstance(lost_call.error, OutcomeUnknownError)
    assert len(transport.requests) == 2  # the lost write was not re-sent
    await client.close()

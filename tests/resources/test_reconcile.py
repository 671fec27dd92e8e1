"""``_resources/_reconcile/``: each "answer lost → read the state" rule on its own, with a fake
reader, and the resource seam (``Resource._written``) that hands a rule its lost call."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import msgspec
import pytest

from kraken_prime_async import models
from kraken_prime_async._keys.fence import fencing, issue_nonce
from kraken_prime_async._keys.nonces import LocalNonceSource
from kraken_prime_async._resources._reconcile import base as _reconcile
from kraken_prime_async._resources._reconcile import fast_api as _reconcile_fast_api
from kraken_prime_async._resources._reconcile.base import (
    LostAnswer,
    Outcome,
    Resend,
    Rule,
    read_back,
)
from kraken_prime_async._resources._reconcile.claims import Claims, Mark, Registration
from kraken_prime_async._resources.fast_api_keys import _Name, _Update
from kraken_prime_async._resources.settlement import CREATE_BATCH, CreateBatch, SettleAsset
from kraken_prime_async.errors import APIConnectionError, OutcomeUnknownError
from tests._fakes import BATCH, LEG, FakeClock, ScriptedTransport, lost, make_client, ok

FENCE = 10_000


def _lost(
    operation: str, request: Any, before: object = None, *, sole_writer: bool = True
) -> LostAnswer[Any]:
    """A lost call of a client that registered it (``sole_writer``: no other writer exists)."""
    error = OutcomeUnknownError("lost", operation=operation, arguments={}, attempts=1)
    clock = FakeClock()
    claims = Claims(f"test:{id(error)}", sole_writer=sole_writer, store=None, clock=clock)
    mark = Mark(0, frozenset(), clock())  # marked before the read: nothing registered since
    registration = Registration(claims, operation, mark=mark)
    return LostAnswer(operation, request, error, before, None, registration)


def _batch(batch_id: str, *, kind: str | None = None, leg: dict[str, Any] | None = None) -> Any:
    attributes: dict[str, Any] = {**cast("dict[str, Any]", BATCH["attributes"]), "asset_kind": kind}
    raw = dict(BATCH, id=batch_id, attributes=attributes, legs=[leg or LEG])
    return msgspec.json.decode(msgspec.json.encode(raw), type=models.Batch)


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
        self, *, statuses: Iterable[str] | None = None, limit: int | None = None
    ) -> models.BatchPage:
        if self.fail:
            raise APIConnectionError("down", sent=False, operation="ListPrimeSettlementBatches")
        self.listed.append({"statuses": statuses, "limit": limit})
        pagination = models.Pagination(has_more=False)
        return models.BatchPage(data=tuple(self.batches.values()), pagination=pagination)


class Keys:
    """A fake ``oauth.fast_api_keys`` reader."""

    def __init__(self, *names: str, fail: bool = False, fail_delete: bool = False) -> None:
        self.names = list(names)
        self.fail = fail
        self.fail_delete = fail_delete
        self.deleted: list[str] = []

    async def list(self) -> list[models.FastApiKeyInfo]:
        if self.fail:
            raise APIConnectionError("down", sent=False, operation="ListFastApiKeys")
        return [models.FastApiKeyInfo(api_key_name=name) for name in self.names]

    async def delete(self, api_key_name: str) -> bool:
        if self.fail_delete:
            raise APIConnectionError("down", sent=False, operation="DeleteFastApiKey")
        self.deleted.append(api_key_name)
        self.names.remove(api_key_name)
        return True


async def test_create_batch_before_reads_the_active_batches_of_the_kind() -> None:
    reader = Batches(_batch("B1", kind="currency"), _batch("B2", kind="tokenized_equity"))
    assert _reconcile.CREATE_BATCH.before is not None
    before = await _reconcile.CREATE_BATCH.before(reader, CreateBatch())
    assert before == frozenset({"B1"})
    assert reader.listed == [{"statuses": ("unsettled", "partially_settled"), "limit": 200}]


async def test_create_batch_takes_only_a_batch_that_was_not_there_before() -> None:
    reader = Batches(_batch("B1", kind="currency"), _batch("B2", kind="currency"))
    lost_call = _lost("Create", CreateBatch(), before=frozenset({"B1"}))
    found = await _reconcile.CREATE_BATCH.resolve(reader, lost_call)
    assert isinstance(found, models.Batch) and found.id == "B2"


async def test_without_sole_writer_a_new_batch_is_a_candidate_never_a_result() -> None:
    reader = Batches(_batch("B1", kind="currency"), _batch("B2", kind="currency"))
    lost_call = _lost("Create", CreateBatch(), before=frozenset({"B1"}), sole_writer=False)
    with pytest.raises(OutcomeUnknownError, match="another writer") as info:
        await _reconcile.CREATE_BATCH.resolve(reader, lost_call)
    assert info.value.candidates == ("B2",)


async def test_without_sole_writer_a_new_fast_api_key_is_reported_not_deleted() -> None:
    reader = Keys("k1")
    lost_call = _lost("CreateFastApiKey", _Name(api_key_name="k1"), frozenset(), sole_writer=False)
    with pytest.raises(OutcomeUnknownError) as info:
        await _reconcile_fast_api.FAST_API_CREATE.resolve(reader, lost_call)
    assert info.value.candidates == ("k1",) and reader.deleted == []


async def test_create_batch_resends_when_only_an_earlier_batch_exists() -> None:
    # The old rule returned B1 (created moments before the call) as this call's result.
    reader = Batches(_batch("B1", kind="currency"))
    lost_call = _lost("Create", CreateBatch(), before=frozenset({"B1"}))
    assert isinstance(await _reconcile.CREATE_BATCH.resolve(reader, lost_call), Resend)


async def test_an_unreadable_state_leaves_the_outcome_unknown() -> None:
    lost_call = _lost("Create", CreateBatch(), before=frozenset())
    with pytest.raises(OutcomeUnknownError, match="could not be read back") as info:
        await _reconcile.CREATE_BATCH.resolve(Batches(fail=True), lost_call)
    assert info.value.__cause__ is lost_call.error


async def test_settle_asset_returns_the_transfer_the_leg_shows() -> None:
    leg = dict(LEG, status="settling", latest_spot_transfer={"id": "T1", "status": "pending"})
    reader = Batches(_batch("B1", leg=leg))
    lost_call = _lost("Settle", SettleAsset(batch_id="B1", asset="BTC"))
    transfer = await _reconcile.SETTLE_ASSET.resolve(reader, lost_call)
    assert isinstance(transfer, models.Transfer)
    assert transfer.id == "T1" and transfer.attributes.transfer_status == "pending"
    assert transfer.attributes.transfer_asset == "BTC"


async def test_settle_leg_accepts_a_started_leg_without_a_named_transfer() -> None:
    reader = Batches(_batch("B1", leg=dict(LEG, status="settling")))
    lost_call = _lost("Settle", SettleAsset(batch_id="B1", asset="BTC"))
    assert await _reconcile.SETTLE_LEG.resolve(reader, lost_call) is None
    with pytest.raises(OutcomeUnknownError, match="names no transfer"):
        await _reconcile.SETTLE_ASSET.resolve(reader, lost_call)


@pytest.mark.parametrize("rule", [_reconcile.SETTLE_ASSET, _reconcile.SETTLE_LEG])
async def test_a_leg_not_started_after_the_fence_is_settled_again(
    rule: Rule[Any, Any, Any],
) -> None:
    lost_call = _lost("Settle", SettleAsset(batch_id="B1", asset="BTC"))
    assert isinstance(await rule.resolve(Batches(_batch("B1")), lost_call), Resend)
    with pytest.raises(OutcomeUnknownError, match="could not be read back"):
        await rule.resolve(Batches(_batch("B1"), fail=True), lost_call)


async def test_fast_api_create_deletes_the_key_whose_secret_was_lost_then_resends() -> None:
    reader = Keys("k1")
    lost_call = _lost("CreateFastApiKey", _Name(api_key_name="k1"), before=frozenset())
    assert isinstance(await _reconcile_fast_api.FAST_API_CREATE.resolve(reader, lost_call), Resend)
    assert reader.deleted == ["k1"]


@pytest.mark.parametrize(
    ("reader", "before"),
    [(Keys(), frozenset()), (Keys("k1"), frozenset({"k1"}))],
    ids=["absent", "there-before"],
)
async def test_fast_api_create_resends_without_deleting_anything(
    reader: Keys, before: frozenset[str]
) -> None:
    lost_call = _lost("CreateFastApiKey", _Name(api_key_name="k1"), before=before)
    assert isinstance(await _reconcile_fast_api.FAST_API_CREATE.resolve(reader, lost_call), Resend)
    assert reader.deleted == []


async def test_fast_api_create_names_the_orphan_it_could_not_delete() -> None:
    lost_call = _lost("CreateFastApiKey", _Name(api_key_name="k1"), before=frozenset())
    with pytest.raises(OutcomeUnknownError, match="secret was not received") as info:
        await _reconcile_fast_api.FAST_API_CREATE.resolve(Keys("k1", fail_delete=True), lost_call)
    assert info.value.orphan_key_id == "k1"
    assert info.value.__cause__ is lost_call.error


async def test_fast_api_rename_and_delete_read_the_names() -> None:
    rules = _reconcile_fast_api
    rename = _lost("UpdateFastApiKey", _Update(api_key_name="old", new_api_key_name="new"))
    assert await rules.FAST_API_RENAME.resolve(Keys("new"), rename) is True
    for reader in (Keys("old", "new"), Keys("old"), Keys(fail=True)):
        with pytest.raises(OutcomeUnknownError, match="UpdateFastApiKey: the answer was lost"):
            await rules.FAST_API_RENAME.resolve(reader, rename)
    delete = _lost("DeleteFastApiKey", _Name(api_key_name="old"))
    assert await rules.FAST_API_DELETE.resolve(Keys("new"), delete) is True
    with pytest.raises(OutcomeUnknownError, match="still exists"):
        await rules.FAST_API_DELETE.resolve(Keys("old"), delete)


async def test_a_read_back_carries_a_nonce_at_the_fence_floor() -> None:
    source = LocalNonceSource(clock=lambda: 1.0)  # "now" is far below the floor
    with fencing(FENCE) as fence:
        assert await issue_nonce(source) == FENCE and fence.passed
    assert await issue_nonce(source) == FENCE + 1  # later nonces continue above it


async def test_a_source_without_a_floor_cannot_pass_a_fence_above_its_next_nonce() -> None:
    class Plain:
        async def next_nonce(self) -> int:
            return 5

    with fencing(FENCE) as fence:
        assert await issue_nonce(Plain()) == 5
    assert not fence.passed
    lost_call = msgspec.structs.replace(
        _lost("Create", CreateBatch(), before=frozenset()), fence=FENCE
    )
    reader = Batches()
    with pytest.raises(OutcomeUnknownError, match="could not be fenced off"):
        await read_back(lost_call, "the batches", lambda: _run_with(Plain(), reader))


async def _run_with(source: Any, reader: Batches) -> models.BatchPage:
    await issue_nonce(source)  # what HmacAuth does for the read's request
    return await reader.list_batches()


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
    client, _clock = make_client(transport)
    rule: Rule[Any, Any, str] = Rule(resolve, before=before)
    settlement = client.settlement
    request = CreateBatch(asset_kind="currency")
    sent = await settlement._written(CREATE_BATCH, request, reconcile=rule)
    assert isinstance(sent.value, models.Batch) and sent.read_back is False and not seen
    read = await settlement._written(CREATE_BATCH, request, reconcile=rule)
    assert read == Outcome("from the read-back", read_back=True)
    reader, lost_call = seen[0]
    assert reader is settlement and lost_call.request is request
    assert lost_call.operation == "CreatePrimeSettlementBatch" and lost_call.fence is not None
    assert lost_call.before == "read before sending"
    assert isinstance(lost_call.error, OutcomeUnknownError)
    assert len(transport.requests) == 2  # the lost write was not re-sent
    await client.close()

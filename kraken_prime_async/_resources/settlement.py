"""Tag "Settlement": snapshot trades into a batch, read batches, settle one leg."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable
from datetime import datetime

import msgspec
from msgspec import UNSET, UnsetType

from .. import _validation as check
from .._constants import (
    DEFAULT_SETTLE_CONCURRENCY,
    DEFAULT_SETTLE_POLL_INTERVAL,
    MAX_LIST_LIMIT,
)
from .._endpoint import Endpoint, same
from .._retry import RetryLike
from ..errors import ValidationError
from ..models import (
    AssetKind,
    Batch,
    BatchFilterAssetKind,
    BatchPage,
    BatchStatus,
    SettlementReport,
    Transfer,
)
from ._base import Request, Resource, TimeoutLike
from ._reconcile import base as _reconcile
from ._reconcile.base import Outcome
from .settle_batch import ProgressCallback, settle_batch


class CreateBatch(Request, frozen=True):
    asset_kind: str | UnsetType = UNSET


class GetBatch(Request, frozen=True):
    batch_id: str
    asset_kind: str | UnsetType = UNSET


class ListBatches(Request, frozen=True):
    asset_kind: str | UnsetType = UNSET
    statuses: list[str] | UnsetType = UNSET
    from_: int | UnsetType = msgspec.field(default=UNSET, name="from")
    until: int | UnsetType = UNSET
    limit: int | UnsetType = UNSET
    offset: int | UnsetType = UNSET


class SettleAsset(Request, frozen=True):
    batch_id: str
    asset: str


class _BatchResult(msgspec.Struct, frozen=True, gc=False):
    batch: Batch


class _TransferResult(msgspec.Struct, frozen=True, gc=False):
    transfer: Transfer


def _batch(result: _BatchResult) -> Batch:
    return result.batch


def _transfer(result: _TransferResult) -> Transfer:
    return result.transfer


CREATE_BATCH = Endpoint("CreatePrimeSettlementBatch", _BatchResult, _batch, idempotent=False)
GET_BATCH = Endpoint("GetPrimeSettlementBatch", _BatchResult, _batch, idempotent=True)
LIST_BATCHES: Endpoint[BatchPage, BatchPage] = Endpoint(
    "ListPrimeSettlementBatches", BatchPage, same, idempotent=True
)
SETTLE_ASSET = Endpoint(
    "SettlePrimeSettlementBatchAsset", _TransferResult, _transfer, idempotent=False
)


def _filter_kind(asset_kind: BatchFilterAssetKind | str | None) -> str | UnsetType:
    # The Get/List filter vocabulary conflicts between documentation revisions: any value passes.
    return UNSET if asset_kind is None else check.open_string("asset_kind", asset_kind)


class Settlement(Resource):
    """``client.settlement``: settlement batches and legs."""

    __slots__ = ()

    async def create_batch(
        self,
        asset_kind: AssetKind | str | None = None,
        *,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> Batch:
        """Snapshot every unsettled trade of ``asset_kind`` (Kraken's default: ``"currency"``)
        into a new batch; one active batch per kind may exist.

        Not idempotent, so never re-sent blindly: the active batches are listed before sending
        (one extra call per create), and if the answer is lost they are read back once the lost
        request is fenced off by the nonce. A new batch of the kind is this call's and is
        returned; none means the create did not happen and it is sent again (within
        ``max_attempts``; a batch another worker made before the call is never returned).
        See ``docs/guarantees.md``, "Exactly-once writes".
        """
        kind = UNSET if asset_kind is None else check.choice("asset_kind", asset_kind, AssetKind)
        request = CreateBatch(asset_kind=kind)
        return await self._write(
            CREATE_BATCH, request, reconcile=_reconcile.CREATE_BATCH, timeout=timeout, retry=retry
        )

    async def get_batch(
        self,
        batch_id: str,
        *,
        asset_kind: BatchFilterAssetKind | str | None = None,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> Batch:
        """One batch with its legs, their status, and its ``trade_ids``."""
        request = GetBatch(
            batch_id=check.identifier("batch_id", batch_id), asset_kind=_filter_kind(asset_kind)
        )
        return await self._call(GET_BATCH, request, timeout=timeout, retry=retry)

    async def list_batches(
        self,
        *,
        statuses: Iterable[BatchStatus | str] | None = None,
        from_: int | datetime | None = None,
        until: int | datetime | None = None,
        limit: int | None = None,
        offset: int | None = None,
        asset_kind: BatchFilterAssetKind | str | None = None,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> BatchPage:
        """One page of batches, newest first.

        ``from_`` is exclusive and ``until`` inclusive; both are epoch milliseconds or aware
        datetimes. ``limit`` is 1..200 (Kraken's default 50).
        """
        request = _list_request(statuses, from_, until, limit, offset, asset_kind)
        return await self._call(LIST_BATCHES, request, timeout=timeout, retry=retry)

    async def iter_batches(
        self,
        *,
        statuses: Iterable[BatchStatus | str] | None = None,
        from_: int | datetime | None = None,
        until: int | datetime | None = None,
        page_size: int = MAX_LIST_LIMIT,
        asset_kind: BatchFilterAssetKind | str | None = None,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> AsyncIterator[Batch]:
        """Every matching batch, newest first, page by page.

        ``until`` defaults to the moment iteration starts, so batches created meanwhile do not
        shift the pages.
        """
        statuses = None if statuses is None else check.choices("statuses", statuses, BatchStatus)
        page_size = check.integer("page_size", page_size, minimum=1, maximum=MAX_LIST_LIMIT)
        pinned = until if until is not None else int(time.time() * 1000)
        offset = 0
        while True:
            request = _list_request(statuses, from_, pinned, page_size, offset, asset_kind)
            page = await self._call(LIST_BATCHES, request, timeout=timeout, retry=retry)
            for batch in page.data:
                yield batch
            offset += len(page.data)
            if not page.pagination.has_more or not page.data:
                return

    async def settle_asset(
        self,
        batch_id: str,
        asset: str,
        *,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> Transfer:
        """Start the transfer that settles ``asset``'s leg of a confirmed batch. Moves funds.

        Never re-sent blindly. After a lost answer the batch is read back once the lost request
        is fenced off by the nonce (no extra call before sending): a leg showing its transfer
        (``latest_spot_transfer`` with an ``id``) returns that transfer; a leg not started means
        the settle did not happen and it is sent again (within ``max_attempts``); a leg started
        without a named transfer raises :class:`~kraken_prime_async.errors.OutcomeUnknownError`.
        See ``docs/guarantees.md``, "Exactly-once writes".
        """
        request = _settle_request(batch_id, asset)
        return await self._write(
            SETTLE_ASSET, request, reconcile=_reconcile.SETTLE_ASSET, timeout=timeout, retry=retry
        )

    async def settle_batch(
        self,
        batch_id: str,
        *,
        concurrency: int = DEFAULT_SETTLE_CONCURRENCY,
        wait_for_confirmation: float = 0.0,
        poll_interval: float = DEFAULT_SETTLE_POLL_INTERVAL,
        on_progress: ProgressCallback | None = None,
    ) -> SettlementReport:
        """Settle every eligible leg of a batch, ``concurrency`` at a time.

        Safe to run again after a crash or Ctrl-C: each run starts from the batch as Kraken
        reports it, skipping legs that are already settling or settled and legs with
        ``can_settle`` false. A leg whose settle answer was lost is read back once the lost
        request is fenced off by the nonce: ``settled`` if the batch shows its transfer
        started; settled again if it shows the leg not started; ``unknown`` if the batch cannot
        be read (run again later).

        Parameters
        ----------
        batch_id : str
            The batch to settle.
        concurrency : int
            Legs settled at once.
        wait_for_confirmation : float
            Seconds to keep polling an unconfirmed batch (0: do not wait; every leg is then
            skipped as "batch not confirmed").
        poll_interval : float
            Seconds between polls while waiting for confirmation.
        on_progress : callable, optional
            Called as ``on_progress(done, total, outcome)`` after each leg.

        Returns
        -------
        SettlementReport
            One :class:`LegOutcome` per leg: settled, skipped (and why), failed (and why) or
            unknown.
        """
        return await settle_batch(
            self.get_batch,
            self._settle_leg,
            check.identifier("batch_id", batch_id),
            concurrency=check.integer("concurrency", concurrency, minimum=1),
            wait_for_confirmation=check.seconds(
                "wait_for_confirmation", wait_for_confirmation, allow_zero=True
            ),
            poll_interval=check.seconds("poll_interval", poll_interval, allow_zero=False),
            on_progress=check.callback("on_progress", on_progress),
            sleep=self._pipeline.sleep,
        )

    async def _settle_leg(self, batch_id: str, asset: str) -> Outcome[Transfer | None]:
        """``settle_batch``'s seam: settle one leg; a leg the batch shows started after a lost
        answer is settled even when the batch names no transfer."""
        request = _settle_request(batch_id, asset)
        return await self._written(SETTLE_ASSET, request, reconcile=_reconcile.SETTLE_LEG)


def _settle_request(batch_id: str, asset: str) -> SettleAsset:
    return SettleAsset(
        batch_id=check.identifier("batch_id", batch_id), asset=check.identifier("asset", asset)
    )


def _list_request(
    statuses: Iterable[BatchStatus | str] | None,
    from_: int | datetime | None,
    until: int | datetime | None,
    limit: int | None,
    offset: int | None,
    asset_kind: BatchFilterAssetKind | str | None,
) -> ListBatches:
    start = UNSET if from_ is None else check.epoch_ms("from_", from_)
    end = UNSET if until is None else check.epoch_ms("until", until)
    if not isinstance(start, UnsetType) and not isinstance(end, UnsetType) and start >= end:
        raise ValidationError("from_", "must be before until")
    return ListBatches(
        asset_kind=_filter_kind(asset_kind),
        statuses=UNSET if statuses is None else check.choices("statuses", statuses, BatchStatus),
        from_=start,
        until=end,
        limit=UNSET
        if limit is None
        else check.integer("limit", limit, minimum=1, maximum=MAX_LIST_LIMIT),
        offset=UNSET if offset is None else check.integer("offset", offset, minimum=0),
    )

"""Tag "Settlement": snapshot trades into a batch, read batches, settle one leg."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec
from msgspec import UNSET, UnsetType

from .. import _validation as check
from .._constants import LOGGER_NAME, MAX_LIST_LIMIT, RECONCILE_SKEW_MS
from .._endpoint import Endpoint, same
from .._retry import RetryPolicy
from ..errors import KrakenPrimeError, OutcomeUnknownError, ValidationError
from ..models import (
    AssetKind,
    Batch,
    BatchFilterAssetKind,
    BatchPage,
    BatchStatus,
    Leg,
    Transfer,
    TransferAttributes,
    TransferRelationships,
)
from ._base import Request, Resource, TimeoutLike

if TYPE_CHECKING:
    # Imported when first used: keeps ``import kraken_prime_async`` lean (two dataclasses).
    from .settle_batch import ProgressCallback, SettlementReport


class CreateBatch(Request, frozen=True, gc=False):
    asset_kind: str | UnsetType = UNSET


class GetBatch(Request, frozen=True, gc=False):
    batch_id: str
    asset_kind: str | UnsetType = UNSET


class ListBatches(Request, frozen=True, gc=False):
    asset_kind: str | UnsetType = UNSET
    statuses: list[str] | UnsetType = UNSET
    from_: int | UnsetType = msgspec.field(default=UNSET, name="from")
    until: int | UnsetType = UNSET
    limit: int | UnsetType = UNSET
    offset: int | UnsetType = UNSET


class SettleAsset(Request, frozen=True, gc=False):
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


logger = logging.getLogger(LOGGER_NAME)

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
        retry: RetryPolicy | None = None,
    ) -> Batch:
        """Snapshot every unsettled trade of ``asset_kind`` (Kraken's default: ``"currency"``)
        into a new batch; one active batch per kind may exist.

        Not idempotent, so never re-sent after a lost answer. Instead the batches are read: an
        unsettled batch of this kind created since the call started is the one this call made
        and is returned. Otherwise :class:`~kraken_prime_async.errors.OutcomeUnknownError` is
        raised.
        """
        kind = AssetKind.CURRENCY.value
        if asset_kind is not None:
            kind = check.choice("asset_kind", asset_kind, AssetKind)
        request = CreateBatch(asset_kind=UNSET if asset_kind is None else kind)
        started_ms = int(self._pipeline.clock() * 1000)
        try:
            return await self._call(CREATE_BATCH, request, timeout=timeout, retry=retry)
        except OutcomeUnknownError:
            found = await self._created_since(kind, started_ms - RECONCILE_SKEW_MS)
            if found is None:
                raise
            logger.warning("CreatePrimeSettlementBatch: answer lost; found batch created by it")
            return found

    async def _created_since(self, kind: str, since_ms: int) -> Batch | None:
        """The single unsettled batch of ``kind`` created after ``since_ms``, if exactly one."""
        try:
            page = await self.list_batches(statuses=["unsettled"], from_=since_ms, limit=200)
            candidates = [b for b in page.data if (b.attributes.asset_kind or kind) == kind]
            if len(candidates) != 1:
                return None
            return await self.get_batch(candidates[0].id)
        except KrakenPrimeError:
            return None

    async def get_batch(
        self,
        batch_id: str,
        *,
        asset_kind: BatchFilterAssetKind | str | None = None,
        timeout: TimeoutLike | None = None,
        retry: RetryPolicy | None = None,
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
        retry: RetryPolicy | None = None,
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
        retry: RetryPolicy | None = None,
    ) -> AsyncIterator[Batch]:
        """Every matching batch, newest first, page by page.

        ``until`` defaults to the moment iteration starts, so batches created meanwhile do not
        shift the pages.
        """
        pinned = until if until is not None else int(time.time() * 1000)
        statuses = None if statuses is None else list(statuses)
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
        retry: RetryPolicy | None = None,
    ) -> Transfer:
        """Start the transfer that settles ``asset``'s leg of a confirmed batch. Moves funds.

        Never re-sent after a lost answer. The batch is read instead: if the leg shows its
        transfer (``latest_spot_transfer`` with an ``id``), that transfer is returned; otherwise
        :class:`~kraken_prime_async.errors.OutcomeUnknownError` is raised (the leg's ``status``,
        ``can_settle`` and ``latest_spot_transfer`` tell you more later).
        """
        transfer, _ = await self._settle_asset(
            batch_id, asset, require_transfer=True, timeout=timeout, retry=retry
        )
        assert transfer is not None  # require_transfer=True never returns None
        return transfer

    async def _settle_asset(
        self,
        batch_id: str,
        asset: str,
        *,
        require_transfer: bool,
        timeout: TimeoutLike | None = None,
        retry: RetryPolicy | None = None,
    ) -> tuple[Transfer | None, bool]:
        """``settle_asset``, also saying whether the outcome was established by reading back.

        After a lost answer the batch is read once. If the leg shows its transfer started, the
        result is ``(transfer, True)``, where ``transfer`` is ``None`` when the batch does not
        name it (then, with ``require_transfer``, the ``OutcomeUnknownError`` is raised). If the
        leg is not shown as started, or the batch cannot be read, the error is raised.
        """
        request = SettleAsset(
            batch_id=check.identifier("batch_id", batch_id), asset=check.identifier("asset", asset)
        )
        try:
            return await self._call(SETTLE_ASSET, request, timeout=timeout, retry=retry), False
        except OutcomeUnknownError:
            try:
                leg = (await self.get_batch(batch_id)).leg(asset)
            except KrakenPrimeError:
                leg = None
            if leg is None or not leg.started:
                raise
            transfer = _shown_transfer(leg)
            if transfer is None and require_transfer:
                raise
            logger.warning("SettlePrimeSettlementBatchAsset: answer lost; the batch shows it")
            return transfer, True

    async def settle_batch(
        self,
        batch_id: str,
        *,
        concurrency: int = 4,
        wait_for_confirmation: float = 0.0,
        poll_interval: float = 2.0,
        on_progress: ProgressCallback | None = None,
    ) -> SettlementReport:
        """Settle every eligible leg of a batch, ``concurrency`` at a time.

        Safe to run again after a crash or Ctrl-C: each run starts from the batch as Kraken
        reports it, skipping legs that are already settling or settled and legs with
        ``can_settle`` false. A leg whose settle answer was lost is read back, never re-sent:
        it is reported ``settled`` if the batch shows its transfer started, else ``unknown``
        (run again later).

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
        from .settle_batch import settle_batch

        return await settle_batch(
            self,
            check.identifier("batch_id", batch_id),
            concurrency=concurrency,
            wait_for_confirmation=wait_for_confirmation,
            poll_interval=poll_interval,
            on_progress=on_progress,
            sleep=self._pipeline.sleep,
        )


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


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


def _shown_transfer(leg: Leg) -> Transfer | None:
    """The transfer a started leg shows in ``latest_spot_transfer``, if it names one."""
    shown = leg.latest_spot_transfer
    if not shown or shown.get("id") is None:
        return None
    return Transfer(
        id=str(shown["id"]),
        attributes=TransferAttributes(
            transfer_status=_str_or_none(shown.get("status")),
            transfer_amount=leg.amount,
            transfer_asset=leg.asset,
        ),
        relationships=TransferRelationships(leg=leg),
    )

"""Tag "Settlement": snapshot trades into a batch, read batches, settle one leg."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from datetime import datetime

import msgspec
from msgspec import UNSET, UnsetType

from .. import _validation as check
from .._constants import (
    DEFAULT_SETTLE_CONCURRENCY,
    DEFAULT_SETTLE_POLL_INTERVAL,
    DEFAULT_WATCH_INTERVAL,
    MAX_LIST_LIMIT,
)
from .._endpoint import Endpoint, same
from .._pipeline import Pipeline
from .._retry import RetryLike
from ..errors import ValidationError
from ..models import (
    AssetKind,
    AssetKindName,
    Batch,
    BatchFilterAssetKind,
    BatchFilterAssetKindName,
    BatchPage,
    BatchStatus,
    BatchStatusName,
    SettlementReport,
    Transfer,
)
from ._base import Request, Resource, TimeoutLike
from ._reconcile import base as _reconcile
from ._reconcile.base import Outcome
from .settle_batch import ProgressCallback, settle_batch
from .settlement_watch import Poller, SettlementEvent, listen, reader


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

    __slots__ = ("_watches",)

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__(pipeline)
        self._watches: dict[tuple[str | None, str | None, float], Poller] = {}

    async def create_batch(
        self,
        asset_kind: AssetKind | AssetKindName | None = None,
        *,
        idempotency_key: str | None = None,
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

        ``idempotency_key``: with the same key and the same arguments, a later call (in this
        process or, with a file or Redis ``journal``, after a restart) returns the recorded
        result without sending; a pending one is settled first. Other arguments raise
        ``ValidationError``. See "Running settlement
        unattended".
        """
        kind = UNSET if asset_kind is None else check.choice("asset_kind", asset_kind, AssetKind)
        request = CreateBatch(asset_kind=kind)
        return await self._write(
            CREATE_BATCH,
            request,
            reconcile=_reconcile.CREATE_BATCH,
            timeout=timeout,
            retry=retry,
            idempotency_key=idempotency_key,
        )

    async def get_batch(
        self,
        batch_id: str,
        *,
        asset_kind: BatchFilterAssetKind | BatchFilterAssetKindName | None = None,
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
        statuses: Iterable[BatchStatus | BatchStatusName] | None = None,
        from_: int | datetime | None = None,
        until: int | datetime | None = None,
        limit: int | None = None,
        offset: int | None = None,
        asset_kind: BatchFilterAssetKind | BatchFilterAssetKindName | None = None,
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
        statuses: Iterable[BatchStatus | BatchStatusName] | None = None,
        from_: int | datetime | None = None,
        until: int | datetime | None = None,
        page_size: int = MAX_LIST_LIMIT,
        asset_kind: BatchFilterAssetKind | BatchFilterAssetKindName | None = None,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> AsyncIterator[Batch]:
        """Every matching batch, newest first, page by page.

        ``until`` defaults to the moment iteration starts, so batches created meanwhile do not
        shift the pages.
        """
        wanted = None if statuses is None else check.choices("statuses", statuses, BatchStatus)
        page_size = check.integer("page_size", page_size, minimum=1, maximum=MAX_LIST_LIMIT)
        pinned = until if until is not None else int(time.time() * 1000)
        offset = 0
        while True:
            request = _list_request(wanted, from_, pinned, page_size, offset, asset_kind)
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
        idempotency_key: str | None = None,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> Transfer:
        """Start the transfer that settles ``asset``'s leg of a confirmed batch. Moves funds.

        Never re-sent blindly. After a lost answer the batch is read back once the lost request
        is fenced off by the nonce (no extra call before sending): a leg showing its transfer
        (``latest_spot_transfer`` with an ``id``) returns that transfer; a leg not started means
        the settle did not happen and it is sent again (within ``max_attempts``); a leg started
        without a named transfer raises
        [`OutcomeUnknownError`][kraken_prime_async.errors.OutcomeUnknownError].
        See ``docs/guarantees.md``, "Exactly-once writes".

        ``idempotency_key``: with the same key and the same arguments, a later call (in this
        process or, with a file or Redis ``journal``, after a restart) returns the recorded
        result without sending; a pending one is settled first. Other arguments raise
        ``ValidationError``. See "Running settlement
        unattended".
        """
        request = _settle_request(batch_id, asset)
        return await self._write(
            SETTLE_ASSET,
            request,
            reconcile=_reconcile.SETTLE_ASSET,
            timeout=timeout,
            retry=retry,
            idempotency_key=idempotency_key,
        )

    def watch(
        self,
        batch_id: str | None = None,
        *,
        asset_kind: AssetKind | str | None = None,
        interval: float | None = None,
    ) -> AsyncGenerator[SettlementEvent, None]:
        """Typed change events of one batch (``batch_id``) or of every active batch.

        ``async for event in client.settlement.watch(batch_id): ...`` yields
        ``BatchCreated``, ``BatchConfirmed``, ``LegSettling``,
        ``TransferStatus``, ``LegSettled`` and ``BatchSettled`` (each has
        ``.name`` and ``.batch_id``), from one read every ``interval`` seconds (default
        5 s) paced like every call of the client. A watch of one
        batch ends after its ``BatchSettled``; a watch of every active batch (of
        ``asset_kind``, when given) runs until the iteration is stopped. Tasks watching with the
        same arguments share one poller: one read per interval, however many listen.

        Raises
        ------
        ValidationError
            A bad ``batch_id``, ``asset_kind`` or ``interval`` (at the first iteration).
        KrakenPrimeError
            A read failed (after the client's retries): every listener's iteration ends so.
        """
        wanted = None if batch_id is None else check.identifier("batch_id", batch_id)
        kind = None if asset_kind is None else check.choice("asset_kind", asset_kind, AssetKind)
        every = DEFAULT_WATCH_INTERVAL if interval is None else interval
        every = check.seconds("interval", every, allow_zero=False)
        key = (wanted, kind, every)
        poller = self._watches.get(key)
        if poller is None:

            def forget() -> None:
                self._watches.pop(key, None)

            poller = self._watches[key] = Poller(
                reader(self, wanted, kind),
                self.get_batch,
                interval=every,
                sleep=self._pipeline.sleep,
                one_batch=wanted is not None,
                on_idle=forget,
            )
        return listen(poller)

    async def settle_batch(
        self,
        batch_id: str,
        *,
        concurrency: int = DEFAULT_SETTLE_CONCURRENCY,
        wait_for_confirmation: float = 0.0,
        poll_interval: float = DEFAULT_SETTLE_POLL_INTERVAL,
        on_progress: ProgressCallback | None = None,
    ) -> SettlementReport:
        """Settle every eligible leg of a batch, up to ``concurrency`` legs at once.

        Safe to run again after a crash or Ctrl-C: each run starts from the batch as Kraken
        reports it, skipping legs that are already settling or settled and legs with
        ``can_settle`` false. With a file or Redis ``journal`` a rerun first settles the legs a
        killed run left in flight (behind their recorded nonce fence), so a leg whose request
        is still on its way is never sent again; legs another live process is settling through
        the same journal are waited for. A leg whose settle answer was lost is read back once
        the lost request is fenced off by the nonce: ``settled`` if the batch shows its transfer
        started; settled again if it shows the leg not started; ``unknown`` if the batch cannot
        be read (run again later).

        Parameters
        ----------
        batch_id : str
            The batch to settle.
        concurrency : int
            Legs worked on at once. With the key's nonce window at 0 (Kraken's default) the
            client still sends one request of the key at a time, so the legs settle one after
            another whatever this says; with a window (``nonce_window=`` on the client and the
            key) up to ``max_in_flight`` settle requests overlap. See ``docs/settlement.md``,
            "What concurrency does, and what it cannot do".
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
            One [`LegOutcome`][kraken_prime_async.LegOutcome] per leg: settled, skipped (and why),
            failed (and why) or
            unknown.
        """
        batch_id = check.identifier("batch_id", batch_id)
        concurrency = check.integer("concurrency", concurrency, minimum=1)
        wait = check.seconds("wait_for_confirmation", wait_for_confirmation, allow_zero=True)
        poll_interval = check.seconds("poll_interval", poll_interval, allow_zero=False)
        on_progress = check.callback("on_progress", on_progress)
        journal = self._pipeline.journal
        if journal is not None:  # a rerun: settle what a dead run left in flight, first
            await journal.resolve_pending(
                operation=SETTLE_ASSET.operation, match={"batch_id": batch_id}
            )
        return await settle_batch(
            self.get_batch,
            self._settle_leg,
            batch_id,
            concurrency=concurrency,
            wait_for_confirmation=wait,
            poll_interval=poll_interval,
            on_progress=on_progress,
            sleep=self._pipeline.sleep,
        )

    async def _settle_leg(self, batch_id: str, asset: str) -> Outcome[Transfer | None]:
        """``settle_batch``'s seam: settle one leg; a leg the batch shows started after a lost
        answer is settled even when the batch names no transfer.

        Under the idempotency key ``settle_batch:<batch>:<asset>``: a leg another live process
        is settling through the same journal is waited for, not sent again."""
        request = _settle_request(batch_id, asset)
        return await self._written(
            SETTLE_ASSET,
            request,
            reconcile=_reconcile.SETTLE_LEG,
            idempotency_key=f"settle_batch:{batch_id}:{asset}",
        )


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

"""``client.settlement.watch()``: typed change events of settlement batches, from one poller.

Kraken Prime pushes nothing, so the state is polled: one read per ``interval`` (a
``GetPrimeSettlementBatch`` for a watched batch, else a ``ListPrimeSettlementBatches`` of the
active batches), each an ordinary call of the client, paced by the key's gate and call counter.
Each poll is compared with the one before and the differences become events:

=====================  ==========================================================
``BatchCreated``  a batch seen for the first time (the first poll reports the
                       batches as they are)
``BatchConfirmed`` the batch is confirmed (settling may start)
``LegSettling``   a leg's transfer started
``LegSettled``    a leg is settled
``TransferStatus`` a leg's transfer reports a new status
``BatchSettled``  the batch is settled; a watch of one batch ends after it
=====================  ==========================================================

Every task iterating ``watch()`` with the same arguments on one client shares one poller (one
read per interval however many listen); a listener joining late first gets the current state as
events. The poller stops when the last listener stops. A read that fails (after the client's
retries) ends every listener's iteration with that error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from typing import Any, ClassVar, Final, Protocol, Union

import msgspec

from .._constants import MAX_LIST_LIMIT
from ..models import AssetKind, Batch, BatchPage, BatchStatus, Leg

ACTIVE: Final = (BatchStatus.UNSETTLED, BatchStatus.PARTIALLY_SETTLED)
_DONE: Final = object()  # a watched batch is settled: the iteration ends


class _Event(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    #: The event's name (``"batch_created"``, ``"leg_settled"``, ...).
    name: ClassVar[str]
    batch_id: str


class BatchCreated(_Event, frozen=True, kw_only=True):
    """A batch seen for the first time (``batch``: as read)."""

    name: ClassVar[str] = "batch_created"
    batch: Batch


class BatchConfirmed(_Event, frozen=True, kw_only=True):
    """The batch is confirmed: its legs may be settled."""

    name: ClassVar[str] = "batch_confirmed"
    batch: Batch


class LegSettling(_Event, frozen=True, kw_only=True):
    """A leg's transfer started (``leg.status`` is no longer ``unsettled``)."""

    name: ClassVar[str] = "leg_settling"
    asset: str
    leg: Leg


class LegSettled(_Event, frozen=True, kw_only=True):
    """A leg is settled."""

    name: ClassVar[str] = "leg_settled"
    asset: str
    leg: Leg


class TransferStatus(_Event, frozen=True, kw_only=True):
    """A leg's transfer (``latest_spot_transfer``) reports a new status."""

    name: ClassVar[str] = "transfer_status"
    asset: str
    transfer_id: str | None
    status: str | None
    leg: Leg


class BatchSettled(_Event, frozen=True, kw_only=True):
    """The batch is settled (the last event of a watch of one batch)."""

    name: ClassVar[str] = "batch_settled"
    batch: Batch


SettlementEvent = Union[  # noqa: UP007 - a runtime alias on Python 3.10
    BatchCreated, BatchConfirmed, LegSettling, LegSettled, TransferStatus, BatchSettled
]


def settled(batch: Batch) -> bool:
    """Whether the batch is settled: its status says so, or every leg is settled."""
    status = batch.attributes.status
    if status in (BatchStatus.SETTLED.value, BatchStatus.COMPLETED.value):
        return True
    return bool(batch.legs) and all(leg.status == "settled" for leg in batch.legs)


def _transfer(leg: Leg) -> tuple[Any, Any]:
    shown = leg.latest_spot_transfer or {}
    return shown.get("id"), shown.get("status")


def changes(before: Batch | None, now: Batch) -> list[SettlementEvent]:
    """The events between two reads of one batch (``before``: none yet)."""
    events: list[SettlementEvent] = []
    if before is None:
        events.append(BatchCreated(batch_id=now.id, batch=now))
    if now.attributes.confirmed and (before is None or not before.attributes.confirmed):
        events.append(BatchConfirmed(batch_id=now.id, batch=now))
    old = {} if before is None else {leg.asset: leg for leg in before.legs}
    for leg in now.legs:
        was = old.get(leg.asset)
        if leg.started and (was is None or not was.started):
            events.append(LegSettling(batch_id=now.id, asset=leg.asset, leg=leg))
        transfer = _transfer(leg)
        if transfer != (None, None) and (was is None or _transfer(was) != transfer):
            transfer_id, status = transfer
            events.append(
                TransferStatus(
                    batch_id=now.id,
                    asset=leg.asset,
                    transfer_id=None if transfer_id is None else str(transfer_id),
                    status=None if status is None else str(status),
                    leg=leg,
                )
            )
        if leg.status == "settled" and (was is None or was.status != "settled"):
            events.append(LegSettled(batch_id=now.id, asset=leg.asset, leg=leg))
    if settled(now) and (before is None or not settled(before)):
        events.append(BatchSettled(batch_id=now.id, batch=now))
    return events


class BatchReads(Protocol):
    """The reads of ``client.settlement`` a watch makes."""

    async def get_batch(self, batch_id: str) -> Batch: ...

    async def list_batches(
        self, *, statuses: Iterable[BatchStatus] | None = None, limit: int | None = None
    ) -> BatchPage: ...


def reader(settlement: BatchReads, batch_id: str | None, kind: str | None) -> Read:
    """One poll: the watched batch, or the active batches (of ``kind``), by id."""

    async def read() -> dict[str, Batch]:
        if batch_id is not None:
            return {batch_id: await settlement.get_batch(batch_id)}
        page = await settlement.list_batches(statuses=ACTIVE, limit=MAX_LIST_LIMIT)
        return {
            b.id: b
            for b in page.data
            if kind is None or (b.attributes.asset_kind or AssetKind.CURRENCY.value) == kind
        }

    return read


#: ``read()``: the batches as they are now, by id.
Read = Callable[[], Awaitable[dict[str, Batch]]]
#: ``get_batch(batch_id)``: one batch (a batch that left the active list is read once more).
GetBatch = Callable[[str], Awaitable[Batch]]


class Poller:
    """One poll loop and its listeners' queues (see the module docstring)."""

    def __init__(
        self,
        read: Read,
        get_batch: GetBatch,
        *,
        interval: float,
        sleep: Callable[[float], Awaitable[None]],
        one_batch: bool,
        on_idle: Callable[[], None],
    ) -> None:
        self._read = read
        self._get_batch = get_batch
        self._interval = interval
        self._sleep = sleep
        self._one_batch = one_batch
        self._on_idle = on_idle
        self._queues: set[asyncio.Queue[Any]] = set()
        self._seen: dict[str, Batch] | None = None
        self._task: asyncio.Task[None] | None = None

    def subscribe(self) -> asyncio.Queue[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        if self._seen is not None:  # a late listener: the state as it is, first
            for batch in self._seen.values():
                for event in changes(None, batch):
                    queue.put_nowait(event)
        self._queues.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Any]) -> None:
        self._queues.discard(queue)
        if not self._queues:
            self._on_idle()
            if self._task is not None:
                self._task.cancel()

    def _publish(self, item: Any) -> None:
        for queue in self._queues:
            queue.put_nowait(item)

    async def _run(self) -> None:
        try:
            while True:
                now = await self._read()
                seen = self._seen or {}
                for batch_id in seen.keys() - now.keys():  # left the active list: read once more
                    now[batch_id] = await self._get_batch(batch_id)
                for batch_id, batch in now.items():
                    for event in changes(seen.get(batch_id), batch):
                        self._publish(event)
                self._seen = {k: b for k, b in now.items() if not settled(b)}
                if self._one_batch and not self._seen:
                    self._publish(_DONE)
                    return
                await self._sleep(self._interval)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._publish(exc)


async def listen(poller: Poller) -> AsyncGenerator[SettlementEvent, None]:
    """Iterate one listener's events until the watched batch is settled or it stops."""
    queue = poller.subscribe()
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        poller.unsubscribe(queue)

"""Answer lost → fence → read the state: one rule per non-idempotent write.

A write whose answer was lost
([`OutcomeUnknownError`][kraken_prime_async.errors.OutcomeUnknownError]) is never
re-sent blindly. ``Resource._written()`` hands its ``Rule`` a
``LostAnswer`` (the operation, the request that was sent, the error, what the rule read
before sending, and the lost request's fence) together with the resource, which the rule reads
the state with. The rule's verdict is one of:

* the write's result as the state shows it (it was applied: the result is returned);
* ``Resend`` (it was proven not applied, or its effect was undone): the resource sends the
  write again as a new attempt, within the retry policy's ``max_attempts``;
* an [`OutcomeUnknownError`][kraken_prime_async.OutcomeUnknownError] saying exactly what is known
and what remains.

"Not applied" is only trusted after the lost request is *fenced off*: every read a rule makes
through ``read_back()`` carries a nonce at or above the lost request's fence floor (``fence``),
so once that read is accepted Kraken refuses the lost request whenever it arrives. No clock
window is involved: a write's effect is identified by diffing the state read before sending
(``Rule.before``, one extra call) with the state read back after the fence, or by the object the
write names (a batch leg, a unique Fast API key name).

A rule is data: ``Rule(resolve, before=None)``. ``before(reader, request)`` runs before the write
is sent and its value reaches ``resolve`` as ``LostAnswer.before``. Readers are typed by the small
protocols below, so this module never imports a resource (the resources import it).

Rules:

===================  ===================================================================
``CREATE_USER``      (``_reconcile_users``) before: the user ids. After: one new user of
                     the name and role → it; none → resend; several → unknown
``CREATE_KEY``       (``_reconcile_users``) before: the user's key ids. After: no new key →
                     resend; one → its secret is lost: delete it, then resend; several →
                     unknown
``CREATE_BATCH``     before: the active batches of the kind. After: a new one → it (read
                     whole); none → resend
``SETTLE_ASSET``     the leg's transfer if the leg shows it started; not started → resend;
                     started without a named transfer → unknown
``SETTLE_LEG``       as ``SETTLE_ASSET``, but started without a named transfer → ``None``
                     (``settle_batch`` reports it settled)
``FAST_API_CREATE``  (``_reconcile_fast_api``) before: the key names. After: the name new →
                     its secret is lost: delete it, then resend; absent, or there before →
                     resend (names are unique; OAuth has no nonce to fence with)
``FAST_API_RENAME``  ``True`` if the new name is listed and the old one is not
``FAST_API_DELETE``  ``True`` if the name is no longer listed
===================  ===================================================================
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

import msgspec
from msgspec import UnsetType

from ..._constants import LOGGER_NAME
from ..._keys.fence import fencing
from ...errors import KrakenPrimeError, OutcomeUnknownError
from ...models import (
    AssetKind,
    Batch,
    BatchPage,
    BatchStatus,
    Leg,
    Transfer,
    TransferAttributes,
    TransferRelationships,
)
from .claims import Attribution, Registration

logger = logging.getLogger(LOGGER_NAME)

T = TypeVar("T")
Rd = TypeVar("Rd", contravariant=True)
Q_co = TypeVar("Q_co", covariant=True)
Q_contra = TypeVar("Q_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)


class LostAnswer(msgspec.Struct, Generic[Q_co], frozen=True):
    """What a rule knows about the write whose answer was lost.

    Attributes
    ----------
    operation : str
        The API operation (``"CreatePrimeSettlementBatch"``, ...).
    request : Q_co
        The request Struct that was sent (the call's checked arguments).
    error : OutcomeUnknownError
        What the pipeline raised; re-raise it, or chain a more precise one to it.
    before : object
        What the rule's ``before`` read before sending (``None`` without one).
    fence : int or None
        The lowest nonce that, once accepted on the key, fences the lost request off (``None``:
        it had no nonce, as with OAuth). Internal: never shown.
    claim : Registration or None
        The create's registration (``Rule.scope``), which tells its new objects from those of
        the other creates the client can see (``attribute()``).
    """

    operation: str
    request: Q_co
    error: OutcomeUnknownError
    before: object = None
    fence: int | None = None
    claim: Registration | None = None
    late: Any = None

    def __repr__(self) -> str:  # the fence is internal: never shown
        return (
            f"LostAnswer(operation={self.operation!r}, request={self.request!r}, "
            f"error={self.error!r}, before={self.before!r})"
        )

    def unknown(
        self,
        message: str,
        *,
        orphan_key_id: str | None = None,
        candidates: tuple[str, ...] = (),
    ) -> OutcomeUnknownError:
        """A new ``OutcomeUnknownError`` with ``message`` and this call's details."""
        return OutcomeUnknownError(
            message,
            operation=self.error.operation,
            arguments=self.error.arguments,
            attempts=self.error.attempts,
            orphan_key_id=orphan_key_id,
            candidates=candidates,
        )

    async def attribute(self, new: Iterable[str]) -> Attribution:
        """Which of the ``new`` objects (found by the read-back) may be this create's, and
        whether that is proven (see ``.claims``). Without a registration nothing is set
        aside and nothing is proven but "nothing new"."""
        if self.claim is None:
            return Attribution(tuple(sorted(set(new))), proven=False)
        return await self.claim.attribute(new)

    def unattributed(self, what: str, candidates: tuple[str, ...]) -> OutcomeUnknownError:
        """The error for new objects the read-back cannot attribute (logged at WARNING: nothing
        is claimed and nothing is deleted)."""
        shown = ", ".join(candidates)
        logger.warning(
            "%s: answer lost; the read-back found %s (%s) that no create the client can see "
            "made: one may be this call's, or another writer's; nothing was deleted",
            self.operation,
            what,
            shown,
        )
        return self.unknown(
            f"{self.operation}: the answer was lost and the read-back found {what} ({shown}) that "
            "no create this client or its fleet can see made: it may be this call's, or another "
            "writer's on the account. Nothing was claimed or deleted: check "
            f"{'it' if len(candidates) == 1 else 'them'} before trying again (with "
            "sole_writer=True on the client, a single one is taken as this call's).",
            candidates=candidates,
        )


class Resend(msgspec.Struct, frozen=True):
    """Verdict: the write was proven not applied (after the fence), or its effect was undone;
    send it again. ``reason`` is logged."""

    reason: str


class Rule(msgspec.Struct, Generic[Rd, Q_contra, R_co], frozen=True):
    """How one write is reconciled after a lost answer (see the module docstring).

    ``refused(reader, lost, exc)``, if given, runs when the write sent again after ``lost`` is
    refused with ``exc``: it returns ``Resend`` if the refusal shows the lost request took
    effect after all (and undoes that effect), else ``None`` (``exc`` is raised).
    """

    resolve: Callable[[Rd, LostAnswer[Q_contra]], Awaitable[R_co | Resend]]
    before: Callable[[Rd, Q_contra], Awaitable[object]] | None = None
    refused: (
        Callable[[Rd, LostAnswer[Q_contra], KrakenPrimeError], Awaitable[Resend | None]] | None
    ) = None
    #: The short tag the ``reconciled`` event and log record give when ``resolve`` returns a
    #: result (``"not_applied"`` for a ``Resend``, ``"unresolved"`` when it raises).
    how: str = "read_back"
    #: A create: the scope it is registered under before it is sent (see ``.claims``), and
    #: the id of the object it made, from its request and its result (registered when it ends).
    scope: Callable[[Q_contra], str] | None = None
    made: Callable[[Any, Any], str | None] | None = None


class Outcome(msgspec.Struct, Generic[R_co], frozen=True):
    """A write's result, and whether it was established by reading back after a lost answer
    (or, ``replayed``, returned from the write journal without sending)."""

    value: R_co
    read_back: bool = False
    replayed: bool = False


async def read_back(lost: LostAnswer[Any], what: str, read: Callable[[], Awaitable[T]]) -> T:
    """``read()`` as the lost request's fence: its requests carry nonces at or above the floor.

    Raises
    ------
    OutcomeUnknownError
        If ``what`` could not be read, or the read's nonce was below the floor (a nonce source
        that cannot issue a nonce at least a floor, with a nonce window): then whether the lost
        request took effect, or still can, is unknown.
    """
    try:
        if lost.fence is None:
            return await read()
        with fencing(lost.fence) as fence:
            value = await read()
    except KrakenPrimeError as exc:
        raise lost.unknown(
            f"{lost.operation}: the answer was lost and {what} could not be read back "
            f"({type(exc).__name__}): whether it took effect is unknown. Read {what} before "
            "trying again."
        ) from lost.error
    if not fence.passed:
        raise lost.unknown(
            f"{lost.operation}: the answer was lost and the lost request could not be fenced off "
            "(the nonce source cannot issue a nonce above the key's nonce window; use one with "
            "next_nonce_at_least): it may still take effect. Read "
            f"{what} before trying again."
        ) from lost.error
    return value


def not_applied(
    lost: LostAnswer[Any], verdict: Resend, refused: KrakenPrimeError | None = None
) -> KrakenPrimeError:
    """What a write proven not applied raises when no attempt is left: its last failure (the
    refusal of the last resend, else what the lost attempt failed with)."""
    logger.warning(
        "%s: answer lost; %s; no attempt left (the write did not take effect)",
        lost.operation,
        verdict.reason,
    )
    cause = refused if refused is not None else lost.error.__cause__
    return cause if isinstance(cause, KrakenPrimeError) else lost.error


# --- Readers: what a rule may read with (the resource passes itself) -----------------------


class BatchReader(Protocol):
    """The reads of ``client.settlement`` the settlement rules use."""

    async def get_batch(self, batch_id: str) -> Batch: ...

    async def list_batches(
        self,
        *,
        statuses: Iterable[BatchStatus] | None = None,
        limit: int | None = None,
    ) -> BatchPage: ...


# --- Requests: the fields a rule reads from the request that was sent ------------------------


class BatchOfKind(Protocol):
    @property
    def asset_kind(self) -> str | UnsetType: ...


class LegRef(Protocol):
    @property
    def batch_id(self) -> str: ...

    @property
    def asset(self) -> str: ...


# --- Settlement ------------------------------------------------------------------------------

#: Batches that block a new batch of their kind ("one active batch per kind").
_ACTIVE = (BatchStatus.UNSETTLED, BatchStatus.PARTIALLY_SETTLED)


def _kind(request: BatchOfKind) -> str:
    asset_kind = request.asset_kind
    return asset_kind if isinstance(asset_kind, str) else AssetKind.CURRENCY.value


async def _active_batches(reader: BatchReader, kind: str) -> frozenset[str]:
    page = await reader.list_batches(statuses=_ACTIVE, limit=200)
    return frozenset(b.id for b in page.data if (b.attributes.asset_kind or kind) == kind)


async def _batches_before(reader: BatchReader, request: BatchOfKind) -> frozenset[str]:
    return await _active_batches(reader, _kind(request))


async def _created_batch(reader: BatchReader, lost: LostAnswer[BatchOfKind]) -> Batch | Resend:
    """The active batch of the kind that was not there before (read whole), if it is proven
    this call's; none (or only other creates') → resend; else raise with the candidates."""
    kind = _kind(lost.request)
    before = lost.before if isinstance(lost.before, frozenset) else frozenset()
    active = await read_back(lost, "the batches", lambda: _active_batches(reader, kind))
    found = await lost.attribute(active - before)
    if not found.remaining:
        return Resend(f"the batches read back after the fence show no new {kind} batch of its own")
    if len(found.remaining) > 1:
        raise lost.unknown(
            f"{lost.operation}: the answer was lost and {len(found.remaining)} new active {kind} "
            f"batches appeared meanwhile (ids {', '.join(found.remaining)}): one may be this "
            "call's. Check them.",
            candidates=found.remaining,
        ) from lost.error
    if found.mine is None:
        raise lost.unattributed(f"a new active {kind} batch", found.remaining) from lost.error
    mine = found.mine
    batch = await read_back(lost, f"batch {mine}", lambda: reader.get_batch(mine))
    logger.warning("%s: answer lost; found the batch created by it", lost.operation)
    return batch


async def _settled_leg(reader: BatchReader, lost: LostAnswer[LegRef]) -> Transfer | Resend | None:
    """The transfer the leg shows (``None``: started, none named); not started → resend."""
    batch_id, asset = lost.request.batch_id, lost.request.asset
    batch = await read_back(lost, f"batch {batch_id}", lambda: reader.get_batch(batch_id))
    leg = batch.leg(asset)
    if leg is None:
        raise lost.unknown(
            f"{lost.operation}: the answer was lost and batch {batch_id} shows no {asset} leg."
        ) from lost.error
    if not leg.started:
        return Resend("the batch read back after the fence shows the leg not started")
    logger.warning("%s: answer lost; the batch shows it started (not sent again)", lost.operation)
    return shown_transfer(leg)


async def _settled_asset(reader: BatchReader, lost: LostAnswer[LegRef]) -> Transfer | Resend:
    """As ``_settled_leg()``, but a started leg that names no transfer raises."""
    transfer = await _settled_leg(reader, lost)
    if transfer is None:
        raise lost.unknown(
            f"{lost.operation}: the answer was lost; batch {lost.request.batch_id} shows the "
            f"{lost.request.asset} leg started but names no transfer yet: it took effect; read "
            "the batch later for its transfer."
        ) from lost.error
    return transfer


def shown_transfer(leg: Leg) -> Transfer | None:
    """The transfer a started leg shows in ``latest_spot_transfer``, if it names one."""
    shown = leg.latest_spot_transfer
    if not shown or shown.get("id") is None:
        return None
    status = shown.get("status")
    return Transfer(
        id=str(shown["id"]),
        attributes=TransferAttributes(
            transfer_status=None if status is None else str(status),
            transfer_amount=leg.amount,
            transfer_asset=leg.asset,
        ),
        relationships=TransferRelationships(leg=leg),
    )


CREATE_BATCH: Rule[BatchReader, BatchOfKind, Batch] = Rule(
    _created_batch,
    _batches_before,
    how="found_batch",
    scope=lambda request: f"batch:{_kind(request)}",
    made=lambda _request, batch: batch.id if isinstance(batch, Batch) else None,
)
SETTLE_ASSET: Rule[BatchReader, LegRef, Transfer] = Rule(_settled_asset, how="leg_started")
SETTLE_LEG: Rule[BatchReader, LegRef, Transfer | None] = Rule(_settled_leg, how="leg_started")

"""Answer lost → read the state: one rule per non-idempotent write that reconciles.

A write whose answer was lost (:class:`~kraken_prime_async.errors.OutcomeUnknownError`) is never
re-sent blindly. :meth:`Resource._write <._base.Resource._write>` hands its :class:`Rule` a
:class:`LostAnswer` (the operation, the request that was sent, the error, when the call began, and
whatever the rule read before sending) together with the resource, which the rule reads the state
with. The rule either returns the write's result as the state shows it, or raises
:class:`OutcomeUnknownError` saying what is known.

A rule is data: ``Rule(resolve, before=None)``. ``before(reader, request)`` runs before the write
is sent and its value reaches ``resolve`` as ``LostAnswer.before``; a "read before, diff after"
rule uses it. Readers are typed by the small protocols below, so this module never imports a
resource (the resources import it).

``Rule.how`` is the short tag the ``reconciled`` event and log record give when ``resolve``
returns a result (``"unresolved"`` when it raises).

Rules today:

===================  ===================================================================
``CREATE_BATCH``     the one unsettled batch of the kind created since the call began
                     (minus ``RECONCILE_SKEW_MS``), else the error is re-raised
``SETTLE_ASSET``     the transfer the batch's leg shows, else the error is re-raised
``SETTLE_LEG``       as ``SETTLE_ASSET``, but a leg shown started without a named transfer
                     resolves to ``None`` (``settle_batch`` reports it settled)
``FAST_API_CREATE``  always raises; the message says whether a key of the name now exists
``FAST_API_RENAME``  ``True`` if the new name is listed and the old one is not
``FAST_API_DELETE``  ``True`` if the name is no longer listed
===================  ===================================================================

Writes without a rule (``api_users.create``, ``api_user_keys.create``) raise the
``OutcomeUnknownError`` as it is.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, NoReturn, Protocol, TypeVar

from msgspec import UnsetType

from .._constants import LOGGER_NAME, RECONCILE_SKEW_MS
from ..errors import KrakenPrimeError, OutcomeUnknownError
from ..models import (
    AssetKind,
    Batch,
    BatchPage,
    FastApiKeyInfo,
    Leg,
    Transfer,
    TransferAttributes,
    TransferRelationships,
)

logger = logging.getLogger(LOGGER_NAME)

Rd = TypeVar("Rd", contravariant=True)
Q_co = TypeVar("Q_co", covariant=True)
Q_contra = TypeVar("Q_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)


@dataclasses.dataclass(frozen=True)
class LostAnswer(Generic[Q_co]):
    """What a rule knows about the write whose answer was lost.

    Attributes
    ----------
    operation : str
        The API operation (``"CreatePrimeSettlementBatch"``, ...).
    request : Q_co
        The request Struct that was sent (the call's checked arguments).
    error : OutcomeUnknownError
        What the pipeline raised; re-raise it, or chain a more precise one to it.
    started_at : float
        The pipeline's clock (epoch seconds) just before the write was sent.
    before : object
        What the rule's ``before`` read before sending (``None`` without one).
    """

    operation: str
    request: Q_co
    error: OutcomeUnknownError
    started_at: float
    before: object = None

    def unknown(self, message: str) -> OutcomeUnknownError:
        """A new :class:`OutcomeUnknownError` with ``message`` and this call's details."""
        return OutcomeUnknownError(
            message,
            operation=self.error.operation,
            arguments=self.error.arguments,
            attempts=self.error.attempts,
        )


@dataclasses.dataclass(frozen=True)
class Rule(Generic[Rd, Q_contra, R_co]):
    """How one write is reconciled after a lost answer (see the module docstring)."""

    resolve: Callable[[Rd, LostAnswer[Q_contra]], Awaitable[R_co]]
    before: Callable[[Rd, Q_contra], Awaitable[object]] | None = None
    how: str = "read_back"


@dataclasses.dataclass(frozen=True)
class Outcome(Generic[R_co]):
    """A write's result, and whether it was established by reading back after a lost answer."""

    value: R_co
    read_back: bool = False


# --- Readers: what a rule may read with (the resource passes itself) -----------------------


class BatchReader(Protocol):
    """The reads of ``client.settlement`` the settlement rules use."""

    async def get_batch(self, batch_id: str) -> Batch: ...

    async def list_batches(
        self,
        *,
        statuses: Iterable[str] | None = None,
        from_: int | None = None,
        limit: int | None = None,
    ) -> BatchPage: ...


class KeyLister(Protocol):
    """The read of ``oauth.fast_api_keys`` the Fast API rules use."""

    async def list(self) -> builtins.list[FastApiKeyInfo]: ...


# --- Requests: the fields a rule reads from the request that was sent ------------------------


class BatchOfKind(Protocol):
    @property
    def asset_kind(self) -> str | UnsetType: ...


class LegRef(Protocol):
    @property
    def batch_id(self) -> str: ...

    @property
    def asset(self) -> str: ...


class KeyName(Protocol):
    @property
    def api_key_name(self) -> str: ...


class KeyRename(KeyName, Protocol):
    @property
    def new_api_key_name(self) -> str | UnsetType: ...


# --- Settlement ------------------------------------------------------------------------------


async def _created_batch(reader: BatchReader, lost: LostAnswer[BatchOfKind]) -> Batch:
    """The single unsettled batch of the kind created since the call began, else re-raise."""
    asset_kind = lost.request.asset_kind
    kind = asset_kind if isinstance(asset_kind, str) else AssetKind.CURRENCY.value
    since_ms = int(lost.started_at * 1000) - RECONCILE_SKEW_MS
    try:
        page = await reader.list_batches(statuses=["unsettled"], from_=since_ms, limit=200)
        candidates = [b for b in page.data if (b.attributes.asset_kind or kind) == kind]
        found = await reader.get_batch(candidates[0].id) if len(candidates) == 1 else None
    except KrakenPrimeError:
        found = None
    if found is None:
        raise lost.error
    logger.warning("%s: answer lost; found batch created by it", lost.operation)
    return found


async def _settled_leg(reader: BatchReader, lost: LostAnswer[LegRef]) -> Transfer | None:
    """The transfer the leg shows (``None``: started, none named), else re-raise."""
    batch_id, asset = lost.request.batch_id, lost.request.asset
    try:
        leg = (await reader.get_batch(batch_id)).leg(asset)
    except KrakenPrimeError:
        leg = None
    if leg is None or not leg.started:
        raise lost.error
    logger.warning("%s: answer lost; the batch shows it", lost.operation)
    return shown_transfer(leg)


async def _settled_asset(reader: BatchReader, lost: LostAnswer[LegRef]) -> Transfer:
    """As :func:`_settled_leg`, but a leg that names no transfer re-raises."""
    transfer = await _settled_leg(reader, lost)
    if transfer is None:
        raise lost.error
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


CREATE_BATCH: Rule[BatchReader, BatchOfKind, Batch] = Rule(_created_batch, how="found_batch")
SETTLE_ASSET: Rule[BatchReader, LegRef, Transfer] = Rule(_settled_asset, how="leg_started")
SETTLE_LEG: Rule[BatchReader, LegRef, Transfer | None] = Rule(_settled_leg, how="leg_started")


# --- Fast API keys (Kraken Connect OAuth) --------------------------------------------------


async def _key_names(reader: KeyLister) -> set[str] | None:
    """The names of the account's keys, or ``None`` if they cannot be read."""
    try:
        keys = await reader.list()
    except KrakenPrimeError:
        return None
    return {key.api_key_name for key in keys if key.api_key_name is not None}


async def _created_key(reader: KeyLister, lost: LostAnswer[KeyName]) -> NoReturn:
    """Never a result (the secret is gone): say whether the key exists, for the caller to act."""
    name = lost.request.api_key_name
    keys = await _key_names(reader)
    if keys is None:
        detail = "and the keys could not be read back: list them before trying again"
    elif name in keys:
        detail = (
            f"and a key named {name!r} now exists: it was created (or already existed), "
            "but its secret was not received and cannot be retrieved. Delete it "
            f"(fast_api_keys.delete({name!r})) and create it again"
        )
    else:
        detail = (
            f"and no key named {name!r} exists on read-back: it was not created. "
            "Creating it again is safe: names are unique, so a late first request cannot "
            "make a second key"
        )
    raise lost.unknown(f"{lost.operation}: the answer was lost, {detail}.") from lost.error


async def _renamed_key(reader: KeyLister, lost: LostAnswer[KeyRename]) -> bool:
    """``True`` if the new name is listed and the old one is not, else raise."""
    name, new_name = lost.request.api_key_name, lost.request.new_api_key_name
    keys = await _key_names(reader)
    if keys is not None and new_name in keys and name not in keys:
        logger.warning("%s: answer lost; the read-back shows the rename", lost.operation)
        return True
    detail = (
        "the keys could not be read back"
        if keys is None
        else f"the read-back does not show {name!r} renamed to {new_name!r}"
    )
    raise lost.unknown(
        f"{lost.operation}: the answer was lost and {detail}; list the keys before trying again."
    ) from lost.error


async def _deleted_key(reader: KeyLister, lost: LostAnswer[KeyName]) -> bool:
    """``True`` if the name is no longer listed, else raise."""
    name = lost.request.api_key_name
    keys = await _key_names(reader)
    if keys is not None and name not in keys:
        logger.warning("%s: answer lost; the read-back shows it deleted", lost.operation)
        return True
    detail = (
        "the keys could not be read back"
        if keys is None
        else f"a key named {name!r} still exists (the delete did not take effect, or not "
        "yet); delete it again if it should go"
    )
    raise lost.unknown(f"{lost.operation}: the answer was lost and {detail}.") from lost.error


FAST_API_CREATE: Rule[KeyLister, KeyName, NoReturn] = Rule(_created_key)
FAST_API_RENAME: Rule[KeyLister, KeyRename, bool] = Rule(_renamed_key, how="rename_shown")
FAST_API_DELETE: Rule[KeyLister, KeyName, bool] = Rule(_deleted_key, how="delete_shown")

"""Kraken Prime's answers: API users, their keys, settlement batches, legs and transfers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import msgspec

from .._secret import SecretStr, repr_hiding
from ..errors import ResponseValidationError
from ._base import _ms_to_datetime, _Result
from ._lazy import lazy_fields


class ApiUser(_Result, frozen=True, kw_only=True):
    """A Prime API user (``ApiUserInfo``; all four fields are required by Kraken's schema).
    ``status`` (``"Enabled"``/``"Disabled"``) and ``roles`` (``"Trader"``/``"Viewer"``) stay
    strings, so an undocumented value still decodes."""

    id: str
    name: str
    status: str
    roles: tuple[str, ...]


class CreatedApiKey(_Result, frozen=True, kw_only=True):
    """A newly created key. ``api_secret`` is shown only in this answer: store it now."""

    id: str
    api_key: str
    api_secret: SecretStr
    user_id: str
    permissions: tuple[str, ...] = ()
    whitelisted_ips: tuple[str, ...] = ()

    __repr__ = repr_hiding("api_key")


class ApiKey(_Result, frozen=True, kw_only=True):
    """An existing key, without its secret. ``api_key`` is the public key (``UpdatePrimeApiUserKey``
    calls it ``api_key``, ``ListPrimeApiUserKeys`` ``key``); ``updated_at``'s unit is not
    documented."""

    id: str
    user_id: str | None = None
    api_key: str | None = None
    permissions: tuple[str, ...] = ()

    __repr__ = repr_hiding("api_key")
    whitelisted_ips: tuple[str, ...] = ()
    updated_at: int | None = None


class Leg(_Result, frozen=True, kw_only=True):
    """One asset's net position in a batch.

    The wire ``amount`` (a decimal string) is kept exactly as Kraken sent it, in ``amount_text``;
    the [`amount`][kraken_prime_async.models.Leg.amount] property parses it into a ``Decimal`` on
    access. A page of 200 batches holds
    1,000 legs, and building their ``Decimal`` s at decode time was about a third of decoding it:
    most callers never read most amounts. ``Transfer.attributes.transfer_amount`` (one per
    answer) stays a ``Decimal`` field.

    Parameters
    ----------
    asset : str
        The asset code.
    amount_text : str or None
        Kraken's ``amount`` exactly as sent (wire name ``amount``; encoding a ``Leg`` writes
        ``"amount": "<text>"``). Kraken's sign is kept (its convention is not documented). Not
        checked at decode time (a ``pattern`` check there cost more than building the
        ``Decimal``); [`amount`][kraken_prime_async.models.Leg.amount] raises on text that is not a
        decimal.
    status : str or None
        Open vocabulary (``unsettled``, ...).
    can_settle : bool or None
        Whether Kraken would accept a settlement of this leg now.
    direction : str or None
        Appears only in some documentation revisions.
    settled_at : int or None
        Unit not documented; left as a raw integer.
    latest_spot_transfer : dict or None
        Its fields are not documented.

    Notes
    -----
    The Struct mirrors the wire, so equality and ``repr`` compare and show the text:
    ``Leg(asset="BTC", amount_text="1.0") != Leg(asset="BTC", amount_text="1.00")`` although
    both ``amount`` values are equal. Compare ``leg.amount`` to compare quantities. Each access
    of [`amount`][kraken_prime_async.models.Leg.amount] parses the text again: keep the value if you
    use it in a loop.
    """

    asset: str
    amount_text: str | None = msgspec.field(default=None, name="amount")
    status: str | None = None
    can_settle: bool | None = None
    direction: str | None = None
    settled_at: int | None = None
    latest_spot_transfer: dict[str, Any] | None = None

    @property
    def amount(self) -> Decimal | None:
        """``amount_text`` as a ``Decimal`` (``None`` when Kraken sent no amount).

        Raises
        ------
        ResponseValidationError
            The text is not a finite decimal number (``NaN``, ``sNaN`` and ``Infinity`` are
            refused: a malformed answer, and comparing an sNaN raises in the caller's code).
        """
        text = self.amount_text
        if text is None:
            return None
        try:
            value = Decimal(text)
        except (InvalidOperation, TypeError, ValueError):
            raise ResponseValidationError(f"Leg.amount: {text!r:.60} is not a decimal") from None
        if not value.is_finite():
            raise ResponseValidationError(f"Leg.amount: {text!r:.60} is not a finite decimal")
        return value

    @property
    def started(self) -> bool:
        """Whether a transfer for this leg has started (it is settling or settled).

        Any status other than ``unsettled`` counts (the vocabulary is not documented), and so
        does a non-empty ``latest_spot_transfer``.
        """
        return (self.status is not None and self.status != "unsettled") or bool(
            self.latest_spot_transfer
        )


class BatchAttributes(_Result, frozen=True, kw_only=True):
    """``Batch.attributes``. ``created_at``/``updated_at`` are epoch milliseconds."""

    status: str | None = None
    confirmed: bool | None = None
    created_at: int | None = None
    updated_at: int | None = None
    trade_count: int | None = None
    asset_kind: str | None = None

    @property
    def created_at_datetime(self) -> datetime | None:
        """``created_at`` as an aware UTC datetime (``ResponseValidationError`` when it is out of
        the range a datetime can hold)."""
        return _ms_to_datetime("created_at", self.created_at)

    @property
    def updated_at_datetime(self) -> datetime | None:
        """``updated_at`` as an aware UTC datetime (errors as for ``created_at_datetime``)."""
        return _ms_to_datetime("updated_at", self.updated_at)


@lazy_fields(legs=tuple[Leg, ...], trade_ids=tuple[str, ...] | None)
class Batch(_Result, frozen=True, kw_only=True):
    """A settlement batch: a snapshot of unsettled trades netted into one leg per asset.

    ``trade_ids`` is ``None`` when the answer did not carry it (list items may not).

    Notes
    -----
    ``legs`` and ``trade_ids`` are decoded when first read, from the answer's bytes, and then
    kept: a page of 200 batches is mostly legs and trade
    ids, and decoding them eagerly was most of the call. Reading them behaves as before, except
    that a malformed leg or trade id raises ``ResponseValidationError`` (naming the field)
    on that first read rather than failing the call. Until then the answer's whole body stays in
    memory with the batch: read the fields (or drop the batch) rather than keep many unread
    pages. ``==``, ``hash`` and ``repr`` read them first; ``msgspec.json.encode`` writes an
    unread one as Kraken sent it; ``msgspec.to_builtins`` needs them read (it raises
    ``TypeError`` on an unread one). docs/performance.md has the figures.
    """

    id: str
    attributes: BatchAttributes = BatchAttributes()
    if TYPE_CHECKING:
        legs: tuple[Leg, ...] = ()
        trade_ids: tuple[str, ...] | None = None
    else:  # decoded on first read (_lazy.py)
        legs: msgspec.Raw = ()
        trade_ids: msgspec.Raw = None

    def leg(self, asset: str) -> Leg | None:
        """The leg for ``asset``, if the batch has one."""
        return next((leg for leg in self.legs if leg.asset == asset), None)


class Pagination(_Result, frozen=True, kw_only=True):
    """Paging state of ``ListPrimeSettlementBatches``."""

    has_more: bool = False
    limit: int | None = None
    offset: int | None = None


class BatchPage(_Result, frozen=True, kw_only=True):
    """One page of batches, newest first."""

    data: tuple[Batch, ...] = ()
    pagination: Pagination = Pagination()


class TransferAttributes(_Result, frozen=True, kw_only=True):
    """``Transfer.attributes``; ``transfer_status`` is an open vocabulary (``pending`` seen).
    ``transfer_amount`` is a finite ``Decimal`` (``NaN``/``Infinity`` there: a malformed answer,
    ``ResponseValidationError``)."""

    transfer_status: str | None = None
    transfer_amount: Decimal | None = None
    transfer_asset: str | None = None

    def __post_init__(self) -> None:
        # Decoding turns this ValueError into a ResponseValidationError (a malformed answer).
        if self.transfer_amount is not None and not self.transfer_amount.is_finite():
            raise ValueError("transfer_amount must be a finite decimal")


class TransferRelationships(_Result, frozen=True, kw_only=True):
    """``Transfer.relationships``: the leg being settled."""

    leg: Leg | None = None


class Transfer(_Result, frozen=True, kw_only=True):
    """The transfer started by ``SettlePrimeSettlementBatchAsset``."""

    id: str
    attributes: TransferAttributes = TransferAttributes()
    relationships: TransferRelationships = TransferRelationships()

"""Typed results and argument enums.

Every result is a frozen :class:`msgspec.Struct` decoded straight from the response bytes. Where
Kraken's documentation is silent or disagrees (see the reference, section 8), fields are optional,
unknown keys are ignored and open vocabularies (statuses, directions, permissions) stay ``str`` so a
new value never breaks decoding. The enums below are for *arguments*: every method that takes one
also accepts the plain string.

Timestamps are integers as Kraken sends them. ``Batch.attributes.created_at``/``updated_at`` are
epoch milliseconds (``created_at_datetime`` converts them); the unit of ``ApiKey.updated_at`` and
``Leg.settled_at`` is not documented, so they are left as raw integers.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import msgspec

from ._secret import SecretStr

__all__ = [
    "ApiKey",
    "ApiUser",
    "AssetKind",
    "Batch",
    "BatchAttributes",
    "BatchFilterAssetKind",
    "BatchPage",
    "BatchStatus",
    "CreatedApiKey",
    "Leg",
    "Pagination",
    "Role",
    "SecretStr",
    "Transfer",
    "TransferAttributes",
    "TransferRelationships",
    "UserStatus",
]


class Role(str, enum.Enum):
    """Role of a Prime API user."""

    TRADER = "Trader"
    VIEWER = "Viewer"


class UserStatus(str, enum.Enum):
    """Status of a Prime API user."""

    ENABLED = "Enabled"
    DISABLED = "Disabled"


class AssetKind(str, enum.Enum):
    """``asset_kind`` of ``CreatePrimeSettlementBatch`` (one active batch per kind)."""

    CURRENCY = "currency"
    TOKENIZED_EQUITY = "tokenized_equity"


class BatchFilterAssetKind(str, enum.Enum):
    """``asset_kind`` filter values shown on the live Get/List pages (unverified; see README)."""

    SPOT = "spot"
    OPTION = "option"
    FUTURE = "future"


class BatchStatus(str, enum.Enum):
    """``statuses`` filter values of ``ListPrimeSettlementBatches``."""

    UNSETTLED = "unsettled"
    PARTIALLY_SETTLED = "partially_settled"
    SETTLED = "settled"
    COMPLETED = "completed"


class _Result(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """Base of every result Struct: immutable, no GC tracking (decoded JSON has no cycles)."""


class ApiUser(_Result, frozen=True, gc=False, kw_only=True):
    """A Prime API user (``ApiUserInfo``; all four fields are required by Kraken's schema).

    ``status`` is ``"Enabled"`` or ``"Disabled"`` and ``roles`` holds ``"Trader"``/``"Viewer"``;
    both are kept as strings so an undocumented value still decodes.
    """

    id: str
    name: str
    status: str
    roles: tuple[str, ...]


class CreatedApiKey(_Result, frozen=True, gc=False, kw_only=True):
    """A newly created key. ``api_secret`` is shown only in this answer: store it now."""

    id: str
    api_key: str
    api_secret: SecretStr
    user_id: str
    permissions: tuple[str, ...] = ()
    whitelisted_ips: tuple[str, ...] = ()


class ApiKey(_Result, frozen=True, gc=False, kw_only=True):
    """An existing key, without its secret.

    ``api_key`` is the public key: ``UpdatePrimeApiUserKey`` calls it ``api_key`` and
    ``ListPrimeApiUserKeys`` calls it ``key``; both land here. ``updated_at``'s unit is not
    documented.
    """

    id: str
    user_id: str | None = None
    api_key: str | None = None
    permissions: tuple[str, ...] = ()
    whitelisted_ips: tuple[str, ...] = ()
    updated_at: int | None = None


class Leg(_Result, frozen=True, gc=False, kw_only=True):
    """One asset's net position in a batch.

    ``amount`` keeps Kraken's sign (its convention is not documented). ``direction`` appears only
    in some documentation revisions. ``latest_spot_transfer``'s fields are not documented.
    """

    asset: str
    amount: Decimal | None = None
    status: str | None = None
    can_settle: bool | None = None
    direction: str | None = None
    settled_at: int | None = None
    latest_spot_transfer: dict[str, Any] | None = None

    @property
    def started(self) -> bool:
        """Whether a transfer for this leg has started (it is settling or settled).

        Any status other than ``unsettled`` counts (the vocabulary is not documented), and so
        does a non-empty ``latest_spot_transfer``.
        """
        return (self.status is not None and self.status != "unsettled") or bool(
            self.latest_spot_transfer
        )


class BatchAttributes(_Result, frozen=True, gc=False, kw_only=True):
    """``Batch.attributes``. ``created_at``/``updated_at`` are epoch milliseconds."""

    status: str | None = None
    confirmed: bool | None = None
    created_at: int | None = None
    updated_at: int | None = None
    trade_count: int | None = None
    asset_kind: str | None = None

    @property
    def created_at_datetime(self) -> datetime | None:
        """``created_at`` as an aware UTC datetime."""
        return _ms_to_datetime(self.created_at)

    @property
    def updated_at_datetime(self) -> datetime | None:
        """``updated_at`` as an aware UTC datetime."""
        return _ms_to_datetime(self.updated_at)


class Batch(_Result, frozen=True, gc=False, kw_only=True):
    """A settlement batch: a snapshot of unsettled trades netted into one leg per asset.

    ``trade_ids`` is ``None`` when the answer did not carry it (list items may not).
    """

    id: str
    attributes: BatchAttributes = BatchAttributes()
    legs: tuple[Leg, ...] = ()
    trade_ids: tuple[str, ...] | None = None

    def leg(self, asset: str) -> Leg | None:
        """The leg for ``asset``, if the batch has one."""
        return next((leg for leg in self.legs if leg.asset == asset), None)


class Pagination(_Result, frozen=True, gc=False, kw_only=True):
    """Paging state of ``ListPrimeSettlementBatches``."""

    has_more: bool = False
    limit: int | None = None
    offset: int | None = None


class BatchPage(_Result, frozen=True, gc=False, kw_only=True):
    """One page of batches, newest first."""

    data: tuple[Batch, ...] = ()
    pagination: Pagination = Pagination()


class TransferAttributes(_Result, frozen=True, gc=False, kw_only=True):
    """``Transfer.attributes``; ``transfer_status`` is an open vocabulary (``pending`` seen)."""

    transfer_status: str | None = None
    transfer_amount: Decimal | None = None
    transfer_asset: str | None = None


class TransferRelationships(_Result, frozen=True, gc=False, kw_only=True):
    """``Transfer.relationships``: the leg being settled."""

    leg: Leg | None = None


class Transfer(_Result, frozen=True, gc=False, kw_only=True):
    """The transfer started by ``SettlePrimeSettlementBatchAsset``."""

    id: str
    attributes: TransferAttributes = TransferAttributes()
    relationships: TransferRelationships = TransferRelationships()


def _ms_to_datetime(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc)

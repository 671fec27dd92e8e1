"""Pydantic v2 models equivalent to ``kraken_prime_async.models.BatchPage`` in its envelope.

Same fields, types, optionality and defaults; frozen; unknown keys ignored (pydantic's default).
Like ``models.Leg``, ``Leg`` keeps the wire ``amount`` as text and parses it on access.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Leg(_Frozen):
    asset: str
    amount_text: str | None = Field(default=None, alias="amount")
    status: str | None = None
    can_settle: bool | None = None
    direction: str | None = None
    settled_at: int | None = None
    latest_spot_transfer: dict[str, Any] | None = None

    @property
    def amount(self) -> Decimal | None:
        return None if self.amount_text is None else Decimal(self.amount_text)


class BatchAttributes(_Frozen):
    status: str | None = None
    confirmed: bool | None = None
    created_at: int | None = None
    updated_at: int | None = None
    trade_count: int | None = None
    asset_kind: str | None = None


class Batch(_Frozen):
    id: str
    attributes: BatchAttributes = BatchAttributes()
    legs: tuple[Leg, ...] = ()
    trade_ids: tuple[str, ...] | None = None


class Pagination(_Frozen):
    has_more: bool = False
    limit: int | None = None
    offset: int | None = None


class BatchPage(_Frozen):
    data: tuple[Batch, ...] = ()
    pagination: Pagination = Pagination()


class Envelope(_Frozen, Generic[T]):
    error: list[str] = []
    result: T | None = None


PageEnvelope = Envelope[BatchPage]

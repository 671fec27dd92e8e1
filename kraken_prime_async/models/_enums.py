"""The argument enums, and their values as ``Literal`` types (a type checker catches a typo)."""

from __future__ import annotations

import enum
from typing import Literal


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
    """``asset_kind`` filter values shown on the live Get/List pages (unverified)."""

    SPOT = "spot"
    OPTION = "option"
    FUTURE = "future"


class BatchStatus(str, enum.Enum):
    """``statuses`` filter values of ``ListPrimeSettlementBatches``."""

    UNSETTLED = "unsettled"
    PARTIALLY_SETTLED = "partially_settled"
    SETTLED = "settled"
    COMPLETED = "completed"


#: The enums' values as strings (``role=``, ``status=``, ...): a type checker catches a typo.
RoleName = Literal["Trader", "Viewer"]
UserStatusName = Literal["Enabled", "Disabled"]
AssetKindName = Literal["currency", "tokenized_equity"]
BatchFilterAssetKindName = Literal["spot", "option", "future"]
BatchStatusName = Literal["unsettled", "partially_settled", "settled", "completed"]

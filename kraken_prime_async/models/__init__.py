"""Typed results and argument enums.

Every result is a frozen ``msgspec.Struct`` decoded straight from the response bytes. Where
Kraken's documentation is silent or disagrees, fields are optional, unknown keys are ignored and
open vocabularies (statuses, directions, permissions) stay ``str`` so a new value never breaks
decoding. The enums are for *arguments*: every method that takes one also accepts the string.
Timestamps are integers as Kraken sends them; each model says what its unit is, when known.
``LegOutcome``/``SettlementReport`` (what ``settle_batch`` reports) and ``KeyFinding``/``KeyAudit``
(what ``audit`` reports) are the SDK's own, not decoded from Kraken.
"""

from __future__ import annotations

from .._secret import SecretStr
from ._enums import (
    AssetKind,
    AssetKindName,
    BatchFilterAssetKind,
    BatchFilterAssetKindName,
    BatchStatus,
    BatchStatusName,
    Role,
    RoleName,
    UserStatus,
    UserStatusName,
)
from ._fast_api import CreatedFastApiKey, FastApiKeyInfo, FastApiKeyPermissions
from ._prime import (
    ApiKey,
    ApiUser,
    Batch,
    BatchAttributes,
    BatchPage,
    CreatedApiKey,
    Leg,
    Pagination,
    Transfer,
    TransferAttributes,
    TransferRelationships,
)
from ._reports import FindingCode, KeyAudit, KeyFinding, LegOutcome, SettlementReport, Severity

__all__ = [
    "ApiKey",
    "ApiUser",
    "AssetKind",
    "AssetKindName",
    "Batch",
    "BatchAttributes",
    "BatchFilterAssetKind",
    "BatchFilterAssetKindName",
    "BatchPage",
    "BatchStatus",
    "BatchStatusName",
    "CreatedApiKey",
    "CreatedFastApiKey",
    "FastApiKeyInfo",
    "FastApiKeyPermissions",
    "FindingCode",
    "KeyAudit",
    "KeyFinding",
    "Leg",
    "LegOutcome",
    "Pagination",
    "Role",
    "RoleName",
    "SecretStr",
    "SettlementReport",
    "Severity",
    "Transfer",
    "TransferAttributes",
    "TransferRelationships",
    "UserStatus",
    "UserStatusName",
]

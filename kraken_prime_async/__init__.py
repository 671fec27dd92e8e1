"""Asyncio SDK for the Kraken Prime REST API: API users, API keys and settlement, and the
Kraken Connect OAuth Fast API key operations.

>>> async with PrimeClient(api_key, api_secret) as client:  # doctest: +SKIP
...     users = await client.api_users.list()
>>> async with FastApiKeyClient(access_token) as oauth:  # doctest: +SKIP
...     keys = await oauth.fast_api_keys.list()
"""

import logging as _logging
from typing import TYPE_CHECKING, Any

from . import errors, models
from ._client import PrimeClient
from ._constants import LOGGER_NAME as _LOGGER_NAME
from ._keys.nonces import LocalNonceSource, NonceSource, NonceUnit
from ._keys.pacing import RateCounter, RateLimit
from ._lifecycle import ClientState
from ._observability.context import last_request_id
from ._observability.log_env import configure_logging_from_env
from ._retry import RetryBudget, RetryPolicy
from ._secret import SecretStr
from ._stats import ClientStats
from ._timeout import RequestTimeout
from ._transports.aiohttp import AiohttpTransport
from ._transports.base import RawResponse, Transport
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ClientStateError,
    CoordinationError,
    DeadlineElapsedError,
    InternalServerError,
    InvalidArgumentsError,
    InvalidNonceError,
    JournalError,
    KeyRotationError,
    KrakenPrimeError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    SecretWithheldError,
    ServiceUnavailableError,
    TemporaryLockoutError,
    ValidationError,
)
from .models import (
    ApiKey,
    ApiUser,
    AssetKind,
    Batch,
    BatchPage,
    BatchStatus,
    CreatedApiKey,
    CreatedFastApiKey,
    FastApiKeyInfo,
    FastApiKeyPermissions,
    KeyAudit,
    KeyFinding,
    Leg,
    LegOutcome,
    Role,
    SettlementReport,
    Transfer,
    UserStatus,
)

if TYPE_CHECKING:
    from . import events
    from ._journal.journal import Journal, Resolution
    from ._journal.redis import RedisJournal
    from ._journal.sqlite import SqliteJournal
    from ._keys.fleet import Fleet, FleetGate
    from ._keys.fleet._file import FileLockFleet, FileLockNonceSource
    from ._keys.fleet._redis import RedisFleet, RedisNonceSource
    from ._oauth_client import FastApiKeyClient
    from ._resources.settlement_watch import (
        BatchConfirmed,
        BatchCreated,
        BatchSettled,
        LegSettled,
        LegSettling,
        SettlementEvent,
        TransferStatus,
    )

# A library's logger stays silent unless the application configures logging (without a
# handler, Python's last-resort handler would print warnings to stderr).
_logger = _logging.getLogger(_LOGGER_NAME)
if not any(isinstance(handler, _logging.NullHandler) for handler in _logger.handlers):
    _logger.addHandler(_logging.NullHandler())

#: Imported on first use: most processes never share a key or manage Fast API keys (keeps
#: ``import kraken_prime_async`` lean).
_LAZY = {
    "BatchConfirmed": "._resources.settlement_watch",
    "BatchCreated": "._resources.settlement_watch",
    "BatchSettled": "._resources.settlement_watch",
    "FastApiKeyClient": "._oauth_client",
    "FileLockFleet": "._keys.fleet._file",
    "FileLockNonceSource": "._keys.fleet._file",
    "Fleet": "._keys.fleet",
    "FleetGate": "._keys.fleet",
    "Journal": "._journal.journal",
    "LegSettled": "._resources.settlement_watch",
    "LegSettling": "._resources.settlement_watch",
    "RedisFleet": "._keys.fleet._redis",
    "RedisJournal": "._journal.redis",
    "RedisNonceSource": "._keys.fleet._redis",
    "Resolution": "._journal.journal",
    "SettlementEvent": "._resources.settlement_watch",
    "SqliteJournal": "._journal.sqlite",
    "TransferStatus": "._resources.settlement_watch",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name == "events":  # loaded by the first client with an on_event callback, or here
        return importlib.import_module(".events", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AiohttpTransport",
    "ApiKey",
    "ApiUser",
    "AssetKind",
    "AuthenticationError",
    "Batch",
    "BatchConfirmed",
    "BatchCreated",
    "BatchPage",
    "BatchSettled",
    "BatchStatus",
    "ClientState",
    "ClientStateError",
    "ClientStats",
    "CoordinationError",
    "CreatedApiKey",
    "CreatedFastApiKey",
    "DeadlineElapsedError",
    "FastApiKeyClient",
    "FastApiKeyInfo",
    "FastApiKeyPermissions",
    "FileLockFleet",
    "FileLockNonceSource",
    "Fleet",
    "FleetGate",
    "InternalServerError",
    "InvalidArgumentsError",
    "InvalidNonceError",
    "Journal",
    "JournalError",
    "KeyAudit",
    "KeyFinding",
    "KeyRotationError",
    "KrakenPrimeError",
    "Leg",
    "LegOutcome",
    "LegSettled",
    "LegSettling",
    "LocalNonceSource",
    "NonceSource",
    "NonceUnit",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "PrimeClient",
    "RateCounter",
    "RateLimit",
    "RateLimitError",
    "RawResponse",
    "RedisFleet",
    "RedisJournal",
    "RedisNonceSource",
    "RequestTimeout",
    "Resolution",
    "ResponseValidationError",
    "RetryBudget",
    "RetryPolicy",
    "Role",
    "SecretStr",
    "SecretWithheldError",
    "ServiceUnavailableError",
    "SettlementEvent",
    "SettlementReport",
    "SqliteJournal",
    "TemporaryLockoutError",
    "Transfer",
    "TransferStatus",
    "Transport",
    "UserStatus",
    "ValidationError",
    "__version__",
    "errors",
    "events",
    "last_request_id",
    "models",
]

configure_logging_from_env()  # KRAKEN_PRIME_LOG=info|debug: a stderr handler (nothing by default)

"""Asyncio SDK for the Kraken Prime REST API: API users, API keys and settlement, and the
Kraken Connect OAuth Fast API key operations.

>>> async with PrimeClient(api_key, api_secret) as client:  # doctest: +SKIP
...     users = await client.api_users.list()
>>> async with FastApiKeyClient(access_token) as oauth:  # doctest: +SKIP
...     keys = await oauth.fast_api_keys.list()
"""

from . import errors, models
from ._client import ClientState, PrimeClient
from ._nonce import LocalNonceSource, NonceSource, NonceUnit
from ._oauth_client import FastApiKeyClient
from ._rate_limit import RateLimit
from ._resources.settle_batch import LegOutcome, SettlementReport
from ._retry import RetryBudget, RetryPolicy
from ._secret import SecretStr
from ._stats import ClientStats
from ._transport import AiohttpTransport, RawResponse, Transport
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ClientStateError,
    DeadlineElapsedError,
    InternalServerError,
    InvalidArgumentsError,
    InvalidNonceError,
    KrakenPrimeError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
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
    Leg,
    Role,
    Transfer,
    UserStatus,
)

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
    "BatchPage",
    "BatchStatus",
    "ClientState",
    "ClientStateError",
    "ClientStats",
    "CreatedApiKey",
    "CreatedFastApiKey",
    "DeadlineElapsedError",
    "FastApiKeyClient",
    "FastApiKeyInfo",
    "FastApiKeyPermissions",
    "InternalServerError",
    "InvalidArgumentsError",
    "InvalidNonceError",
    "KrakenPrimeError",
    "Leg",
    "LegOutcome",
    "LocalNonceSource",
    "NonceSource",
    "NonceUnit",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "PrimeClient",
    "RateLimit",
    "RateLimitError",
    "RawResponse",
    "ResponseValidationError",
    "RetryBudget",
    "RetryPolicy",
    "Role",
    "SecretStr",
    "ServiceUnavailableError",
    "SettlementReport",
    "TemporaryLockoutError",
    "Transfer",
    "Transport",
    "UserStatus",
    "ValidationError",
    "__version__",
    "errors",
    "models",
]

"""The public surface is a contract (PRODUCT.md): these lists change only on purpose.

Like httpx's ``tests/test_exported_members.py``: a name added to or dropped from ``__all__`` of the
package, of ``errors``, of ``events``, of ``models`` or of ``testing`` fails here until the list
below is updated with it.
"""

from __future__ import annotations

import kraken_prime_async
from kraken_prime_async import errors, events, models, testing

PACKAGE = [
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

ERRORS = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "ClientStateError",
    "CoordinationError",
    "DeadlineElapsedError",
    "InternalServerError",
    "InvalidArgumentsError",
    "InvalidNonceError",
    "JournalError",
    "KeyRotationError",
    "KrakenPrimeError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "SecretWithheldError",
    "ServiceUnavailableError",
    "TemporaryLockoutError",
    "ValidationError",
]

MODELS = [
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

EVENTS = [
    "AttemptFinished",
    "CallFinished",
    "CallStarted",
    "Event",
    "LateAnswer",
    "OutcomeUnknown",
    "RateLimitWait",
    "Reconciled",
    "RequestAbandoned",
    "RetryScheduled",
]


def test_package_exports() -> None:
    assert kraken_prime_async.__all__ == PACKAGE == sorted(PACKAGE)
    for name in PACKAGE:  # every name resolves, the lazy ones included
        assert getattr(kraken_prime_async, name) is not None, name


def test_errors_exports() -> None:
    assert errors.__all__ == ERRORS == sorted(ERRORS)
    for name in ERRORS:
        error = getattr(errors, name)
        assert issubclass(error, errors.KrakenPrimeError) and error.__module__ == errors.__name__
        assert getattr(kraken_prime_async, name) is error


def test_models_exports() -> None:
    assert models.__all__ == MODELS == sorted(MODELS)
    for name in MODELS:
        assert getattr(models, name) is not None, name
    for name in set(MODELS) & set(PACKAGE):
        assert getattr(kraken_prime_async, name) is getattr(models, name), name


def test_public_objects_have_docstrings() -> None:
    for name in PACKAGE:
        value = getattr(kraken_prime_async, name)
        if isinstance(value, type):
            assert value.__doc__, name


def test_events_exports() -> None:
    assert events.__all__ == EVENTS == sorted(EVENTS)
    names = set()
    for name in EVENTS:
        if name == "Event":
            continue
        event = getattr(events, name)
        assert event.__doc__ and event.__module__ == events.__name__, name
        names.add(event.name)
    assert len(names) == len(EVENTS) - 1


TESTING = [
    "Answer",
    "AnswerFactory",
    "MockRequest",
    "MockTransport",
    "aioresponses",
    "answer",
    "answer_payload",
]


def test_testing_exports() -> None:
    assert testing.__all__ == TESTING == sorted(TESTING)
    for name in TESTING:
        assert getattr(testing, name).__doc__, name

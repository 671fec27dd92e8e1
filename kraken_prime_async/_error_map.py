"""Map Kraken's ``error`` strings and bare HTTP statuses to the exception tree in ``errors``, and
say what a mapped error means for the call (``is_ambiguous()``, ``error_code()``).

Matching is on the ``<severity><category>:<type>`` prefix; the full original strings are kept on
the exception because extra information may follow further colons.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Final

from . import errors as e

# Keys are "<Category>:<type>" with the severity letter removed, compared case-insensitively.
_BY_PREFIX: Final[dict[str, type[e.APIError]]] = {
    "api:invalid key": e.AuthenticationError,
    "api:invalid signature": e.AuthenticationError,
    "auth:account temporary disabled": e.AuthenticationError,
    "auth:account unconfirmed": e.AuthenticationError,
    "session:invalid session": e.AuthenticationError,
    "auth:invalid token": e.AuthenticationError,
    "api:invalid nonce": e.InvalidNonceError,
    "api:rate limit exceeded": e.RateLimitError,
    "service:throttled": e.RateLimitError,
    "general:too many requests": e.RateLimitError,
    "auth:rate limit exceeded": e.RateLimitError,
    "auth:too many requests": e.RateLimitError,
    "order:rate limit exceeded": e.RateLimitError,
    "general:temporary lockout": e.TemporaryLockoutError,
    "general:invalid arguments": e.InvalidArgumentsError,
    "api:bad request": e.InvalidArgumentsError,
    "general:unknown method": e.InvalidArgumentsError,
    "trade:invalid request": e.InvalidArgumentsError,
    "general:permission denied": e.PermissionDeniedError,
    "account:invalid permissions": e.PermissionDeniedError,
    "service:unavailable": e.ServiceUnavailableError,
    "service:busy": e.ServiceUnavailableError,
    "service:deadline elapsed": e.DeadlineElapsedError,
    "general:internal error": e.InternalServerError,
}

# A lockout outranks everything; then the errors that say "do not retry".
_PRECEDENCE: Final[tuple[type[e.APIError], ...]] = (
    e.TemporaryLockoutError,
    e.AuthenticationError,
    e.PermissionDeniedError,
    e.InvalidArgumentsError,
    e.DeadlineElapsedError,
    e.InvalidNonceError,
    e.RateLimitError,
    e.ServiceUnavailableError,
    e.InternalServerError,
)

_THROTTLED = re.compile(r"EService:\s*Throttled:\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


def is_error(entry: str) -> bool:
    """``True`` for an ``E``-severity entry (``W`` entries are warnings)."""
    return not entry.startswith("W")


def _classify(entry: str) -> type[e.APIError]:
    body = entry[1:] if entry[:1] in ("E", "W") else entry
    category, _, rest = body.partition(":")
    kind = rest.split(":", 1)[0].strip()
    return _BY_PREFIX.get(f"{category.strip()}:{kind}".lower(), e.APIError)


def from_errors(errors: Sequence[str], *, status: int, operation: str) -> e.APIError:
    """Build the exception for a response whose ``error`` array holds ``E`` entries."""
    found = {_classify(entry) for entry in errors if is_error(entry)}
    cls = next((c for c in _PRECEDENCE if c in found), e.APIError)
    message = f"{operation}: {'; '.join(errors)}"
    if issubclass(cls, e.RateLimitError):
        retry_at = None
        for entry in errors:
            match = _THROTTLED.search(entry)
            if match:
                retry_at = float(match.group(1))
        return cls(message, errors=errors, status=status, operation=operation, retry_at=retry_at)
    return cls(message, errors=errors, status=status, operation=operation)


def from_status(status: int, snippet: str, *, operation: str) -> e.APIError:
    """Build the exception for a non-2xx answer whose body carried no Kraken ``error`` array."""
    message = f"{operation}: HTTP {status}" + (f": {snippet}" if snippet else "")
    if status == 429:
        return e.RateLimitError(message, status=status, operation=operation)
    if status in (401, 403):
        return e.AuthenticationError(message, status=status, operation=operation)
    if status in (502, 503, 504):
        return e.ServiceUnavailableError(message, status=status, operation=operation)
    if status >= 500:
        return e.InternalServerError(message, status=status, operation=operation)
    return e.APIError(message, status=status, operation=operation)


def is_ambiguous(exc: BaseException) -> bool:
    """Whether the request may have taken effect although no usable answer came back."""
    if isinstance(exc, e.APIConnectionError):
        return exc.sent
    if isinstance(exc, (e.DeadlineElapsedError, e.InternalServerError)):
        return True
    if isinstance(exc, e.ServiceUnavailableError):
        return not exc.errors  # a proxy's 502/503/504 page: the origin may have processed it
    if isinstance(exc, e.ResponseValidationError):
        return exc.status is not None and 200 <= exc.status < 300
    return False


def unanswered(exc: BaseException) -> bool:
    """Whether a request that left ended without an answer from Kraken itself, so it may still
    reach Kraken: cancelled, timed out, connection lost after sending, or a gateway's timeout
    page (HTTP 504 without Kraken's error array: the origin may still be working on it)."""
    if isinstance(exc, asyncio.CancelledError):
        return True
    if isinstance(exc, e.APIConnectionError):
        return exc.sent
    return isinstance(exc, e.ServiceUnavailableError) and not exc.errors and exc.status == 504


def error_code(exc: BaseException) -> str:
    """A short name of ``exc`` for logs: Kraken's error code, the HTTP status, or the class."""
    if isinstance(exc, e.APIError):
        return exc.code or f"HTTP {exc.status}"
    return type(exc).__name__

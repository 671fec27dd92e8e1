"""tenacity strategies for your own retry loops around SDK calls.

The client already retries what is safe to retry (see the guide "Retries and deadlines"). An
outer loop, around a workflow of several calls, needs to know which of the SDK's errors are safe
to try again; these two strategies say it in tenacity's vocabulary::

    from tenacity import AsyncRetrying, stop_after_attempt, wait_random_exponential
    from kraken_prime_async.retrying import retry_if_retryable, wait_kraken

    async for attempt in AsyncRetrying(
        retry=retry_if_retryable,
        wait=wait_kraken(wait_random_exponential(multiplier=1, max=30)),
        stop=stop_after_attempt(3),
        reraise=True,
    ):
        with attempt:
            await settle_the_batch(client)

Importing this module imports tenacity (``import kraken_prime_async`` does not).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import tenacity

from .errors import KrakenPrimeError, OutcomeUnknownError, RateLimitError

if TYPE_CHECKING:
    from tenacity import RetryCallState

__all__ = ["retry_if_retryable", "wait_kraken"]


def _failure(retry_state: RetryCallState) -> BaseException | None:
    outcome = retry_state.outcome
    if outcome is None or not outcome.failed:
        return None
    return outcome.exception()


class _RetryIfRetryable(tenacity.retry_base):
    """Retry only an SDK error whose ``retryable`` is true, never ``OutcomeUnknownError``."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        exc = _failure(retry_state)
        return (
            isinstance(exc, KrakenPrimeError)
            and exc.retryable
            and not isinstance(exc, OutcomeUnknownError)
        )

    def __repr__(self) -> str:
        return "retry_if_retryable"


#: A tenacity retry strategy (use it as is, like ``retry_always``): retries only what the SDK
#: marks ``retryable`` (server errors, unavailability, rate limits, invalid nonces, connection
#: failures; a create or settle that may have arrived ends with ``OutcomeUnknownError``
#: instead), never a write whose outcome is unknown
#: (``OutcomeUnknownError``: read the state first), never an
#: exception that is not the SDK's, and never a result. Composes with ``|`` and ``&``.
retry_if_retryable: tenacity.retry_base = _RetryIfRetryable()


class wait_kraken(tenacity.wait.wait_base):
    """Wait until the time Kraken named, else as ``fallback`` says.

    After a ``RateLimitError`` with ``retry_at`` (Kraken's
    ``EService: Throttled: <ts>``, or the SDK's pacing refusing a wait past a limit) the wait
    lasts until ``retry_at``; any other failure waits ``fallback(retry_state)``.

    Parameters
    ----------
    fallback : tenacity wait strategy
        E.g. ``wait_random_exponential(multiplier=1, max=30)``.
    clock : callable
        Unix time in seconds (``retry_at`` is Unix time); ``time.time`` by default.
    """

    def __init__(
        self,
        fallback: Callable[[RetryCallState], float],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.fallback = fallback
        self.clock = clock

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = _failure(retry_state)
        if isinstance(exc, RateLimitError) and exc.retry_at is not None:
            return max(0.0, exc.retry_at - self.clock())
        return float(self.fallback(retry_state))

    def __repr__(self) -> str:
        return f"wait_kraken({self.fallback!r})"

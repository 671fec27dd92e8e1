"""Retry policy: which failures are retried, how long to wait, and a client-wide retry budget.

A tenacity ``AsyncRetrying`` is built for every call (a shared retrier is not safe across
concurrent tasks); the policy and the budget it reads are shared.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from . import _constants as c
from .errors import InvalidNonceError, RateLimitError

if TYPE_CHECKING:  # tenacity is imported when a call first needs a retrier, not at import time
    from tenacity import AsyncRetrying, RetryCallState


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How a client retries.

    Retried (with a fresh nonce and signature every time): HTTP 5xx and 429, connection failures
    before sending, ``EAPI:Invalid nonce`` (at most ``max_nonce_retries`` times), rate limiting and
    ``EService:Unavailable``/``Busy``. Reads and idempotent writes are also retried after an
    answer was lost. Never retried: authentication, permission, invalid arguments, lockout, and a
    non-idempotent write whose outcome is unknown.

    Parameters
    ----------
    max_attempts : int
        Attempts per call, the first included (``1`` disables retries).
    max_nonce_retries : int
        Retries after ``EAPI:Invalid nonce`` per call (Kraken bans keys that send many).
    initial_backoff, rate_limit_backoff : float
        First backoff in seconds for server errors and for rate limiting; doubles per attempt.
    max_backoff : float
        Cap of one backoff, in seconds.
    max_throttle_wait : float
        Longest wait honoured for ``EService: Throttled: <ts>``; a later ``ts`` raises instead.
    jitter : bool
        Randomise each backoff within its upper half ("equal jitter").
    """

    max_attempts: int = c.DEFAULT_MAX_ATTEMPTS
    max_nonce_retries: int = c.DEFAULT_MAX_NONCE_RETRIES
    initial_backoff: float = c.DEFAULT_INITIAL_BACKOFF
    rate_limit_backoff: float = c.DEFAULT_RATE_LIMIT_BACKOFF
    max_backoff: float = c.DEFAULT_MAX_BACKOFF
    max_throttle_wait: float = c.DEFAULT_MAX_THROTTLE_WAIT
    jitter: bool = True

    def __post_init__(self) -> None:
        from ._validation import retry_fields

        retry_fields(self)

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)


class RetryBudget:
    """Client-wide retry throttling (the gRPC scheme).

    Every retryable sign of server distress (5xx, unavailable, connection failures, unreadable
    answers) costs one token, every success earns ``ratio`` tokens, and retries are
    allowed only while more than half of ``max_tokens`` remain. During an outage the bucket empties
    after a handful of failures and calls fail fast instead of multiplying load; first attempts are
    never blocked, so the bucket refills as soon as the service answers again. Invalid nonces and
    rate limiting are not distress: they have their own per-call caps and waits.
    """

    __slots__ = ("_max", "_ratio", "_tokens")

    def __init__(
        self,
        max_tokens: float = c.DEFAULT_RETRY_BUDGET_TOKENS,
        ratio: float = c.DEFAULT_RETRY_BUDGET_RATIO,
    ) -> None:
        self._max = max_tokens
        self._ratio = ratio
        self._tokens = max_tokens

    @property
    def tokens(self) -> float:
        """Tokens left."""
        return self._tokens

    def can_retry(self) -> bool:
        """Whether a retry is allowed now."""
        return self._tokens > self._max / 2

    def record_failure(self) -> None:
        """A retryable failure happened."""
        self._tokens = max(0.0, self._tokens - 1.0)

    def record_success(self) -> None:
        """An attempt succeeded."""
        self._tokens = min(self._max, self._tokens + self._ratio)


def backoff(
    policy: RetryPolicy,
    exc: BaseException | None,
    attempt: int,
    *,
    now: float,
    rng: random.Random,
    paced: bool = False,
) -> float:
    """Seconds to wait before attempt ``attempt + 1`` after ``exc``.

    With ``paced`` (a call-counter model is pacing the key), rate-limit waits are left to it.
    """
    if isinstance(exc, InvalidNonceError):
        return 0.0  # the next nonce is already higher; waiting does not help
    if isinstance(exc, RateLimitError) and paced:
        return 0.0
    if isinstance(exc, RateLimitError):
        if exc.retry_at is not None:
            return max(0.0, exc.retry_at - now) + (rng.uniform(0.0, 0.25) if policy.jitter else 0.0)
        base = policy.rate_limit_backoff
    else:
        base = policy.initial_backoff
    cap = min(policy.max_backoff, base * 2.0 ** (attempt - 1))
    return cap / 2 + rng.uniform(0.0, cap / 2) if policy.jitter else cap


def build_retrying(
    policy: RetryPolicy,
    budget: RetryBudget,
    *,
    sleep: Callable[[float], Awaitable[None]],
    clock: Callable[[], float],
    rng: random.Random,
    before_sleep: Callable[[RetryCallState], Any],
    paced: Callable[[], bool] = lambda: False,
) -> AsyncRetrying:
    """A fresh retrier for one call."""
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

    nonce_retries = 0

    def should_retry(exc: BaseException) -> bool:
        nonlocal nonce_retries
        if not getattr(exc, "retryable", False):
            return False
        if isinstance(exc, InvalidNonceError):
            # An ordering problem on our side, not server distress: capped per call, budget-free.
            nonce_retries += 1
            return nonce_retries <= policy.max_nonce_retries
        if isinstance(exc, RateLimitError):
            return exc.retry_at is None or exc.retry_at - clock() <= policy.max_throttle_wait
        return budget.can_retry()

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return backoff(policy, exc, state.attempt_number, now=clock(), rng=rng, paced=paced())

    return AsyncRetrying(
        stop=stop_after_attempt(policy.max_attempts),
        wait=wait,
        retry=retry_if_exception(should_retry),
        sleep=sleep,
        reraise=True,
        before_sleep=before_sleep,
    )

"""Retry policy: which failures are retried, how long to wait, and a client-wide retry budget.

The pipeline runs one plain retry loop per call (``_pipeline.Pipeline._run``). A call that
succeeds builds nothing; at its first failure the loop builds the call's
``Retries``, which decides after every failed attempt: the SDK's rules here
first (``next_delay()``: what may be retried at all, nonce caps, the retry budget,
``Throttled`` times), then the user's tenacity strategies, which may only narrow (``retry``),
reshape the wait (``wait``) or stop sooner (``stop``), then the call's ``max_elapsed`` deadline.
The policy and the budget are shared; everything that changes during a call lives in the call's
own state, so concurrent calls share nothing mutable but the budget.

tenacity is imported only by ``_tenacity`` (a policy built from a retrier, or the first failure
of a call whose policy has strategies), never by ``import kraken_prime_async``.
"""

from __future__ import annotations

import datetime
import random
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import msgspec

from . import _constants as c
from ._validation import integer, seconds
from .errors import InvalidNonceError, RateLimitError, ValidationError

if TYPE_CHECKING:
    import tenacity

    #: What ``retry=`` accepts: a policy, or a tenacity retrier (converted once).
    RetryLike: TypeAlias = "RetryPolicy | tenacity.BaseRetrying"
    #: A tenacity strategy, or any callable taking a ``tenacity.RetryCallState``.
    Strategy = Callable[[tenacity.RetryCallState], Any]
else:
    RetryLike = Any
    Strategy = Callable[[Any], Any]

_STRATEGIES = ("stop", "wait", "retry", "before_sleep")


class RetryPolicy(msgspec.Struct, frozen=True):
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
    budget : RetryBudget, optional
        The retry budget to draw on; by default each client has its own. Give one
        ``RetryBudget`` to several clients (or a tuned one) to share or size it. Part of
        the policy's equality, by identity.
    stop : tenacity stop strategy, optional
        Replaces ``max_attempts``: consulted after a failure the SDK would retry, with the
        upcoming sleep in ``upcoming_sleep`` (so ``stop_before_delay`` works). ``True``: stop.
    wait : tenacity wait strategy, optional
        Replaces the backoff. A ``Throttled: <ts>`` answer still waits until ``<ts>`` at least.
    retry : tenacity retry strategy, optional
        Consulted only for failures the SDK would retry: it can only narrow them
        (``retry_always`` never retries an authentication error or an unknown write outcome).
    before_sleep : callable, optional
        Called with the state (``next_action.sleep`` set) before each wait, e.g.
        ``tenacity.before_sleep_log(logger, logging.WARNING)``.
    max_elapsed : float, optional
        Seconds for the whole call: attempts, waits and pacing. An attempt's timeout is cut to
        what is left; a retry starts only when what is left after its wait is at least as long
        as the call's longest attempt so far; a pacing or ``Throttled`` wait that would cross
        the deadline raises ``RateLimitError`` at once. Checked between attempts: a request
        on the wire is never cancelled by it. ``None``: no deadline (``timeout=`` still bounds
        each attempt).

    Notes
    -----
    A frozen ``msgspec.Struct``: ``msgspec.structs.replace(policy, max_attempts=2)`` makes
    a changed copy. Strategies are any callables taking a ``tenacity.RetryCallState`` (coroutine
    functions are awaited). See the guide "Retries and deadlines".
    """

    max_attempts: int = c.DEFAULT_MAX_ATTEMPTS
    max_nonce_retries: int = c.DEFAULT_MAX_NONCE_RETRIES
    initial_backoff: float = c.DEFAULT_INITIAL_BACKOFF
    rate_limit_backoff: float = c.DEFAULT_RATE_LIMIT_BACKOFF
    max_backoff: float = c.DEFAULT_MAX_BACKOFF
    max_throttle_wait: float = c.DEFAULT_MAX_THROTTLE_WAIT
    jitter: bool = True
    budget: RetryBudget | None = None
    stop: Strategy | None = None
    wait: Strategy | None = None
    retry: Strategy | None = None
    before_sleep: Strategy | None = None
    max_elapsed: float | None = None

    def __post_init__(self) -> None:
        retry_fields(self)

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)

    @classmethod
    def from_tenacity(cls, retrying: tenacity.BaseRetrying, **fields: Any) -> RetryPolicy:
        """A policy with the strategies of a tenacity ``AsyncRetrying`` (or ``Retrying``).

        The retrier is read once and never iterated: its ``stop``, ``wait``, ``retry`` and
        ``before_sleep`` are taken; tenacity's defaults (``stop_never``, ``wait_none()``, retry
        on any exception) are dropped, so they cannot widen the SDK's rules (``max_attempts``
        and the SDK's backoff then stay in force; for no wait at all, pass ``wait_fixed(0)``).
        Its ``sleep`` is not used: the client's ``sleep=`` is; nor its ``reraise``: a call
        always raises its own error. ``fields`` set the policy's other fields
        (``max_elapsed=2.0``, ...).

        Raises
        ------
        ValidationError
            ``retrying`` is not a tenacity retrier, or it sets ``retry_error_callback``,
            ``before`` or ``after`` (the message names them): the SDK raises its own errors and
            reports attempts itself (``on_event=``, logging).
        """
        from ._tenacity import strategies_of

        return cls(**{**strategies_of(retrying), **fields})

    @property
    def has_strategies(self) -> bool:
        """Whether any tenacity strategy is set."""
        return (
            self.stop is not None
            or self.wait is not None
            or self.retry is not None
            or self.before_sleep is not None
        )


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


def next_delay(
    policy: RetryPolicy,
    budget: RetryBudget,
    exc: BaseException,
    attempt: int,
    nonce_retries: int,
    *,
    now: float,
    rng: random.Random,
    paced: bool,
) -> float | None:
    """Seconds to wait before retrying after attempt ``attempt`` failed with ``exc``, or ``None``
    when the call ends here. ``nonce_retries`` counts this call's earlier nonce retries. A
    policy with a ``stop`` strategy leaves the attempt count to it; with a ``wait`` strategy the
    backoff is not computed (``0.0``: the strategy replaces it)."""
    if not getattr(exc, "retryable", False):
        return None
    if policy.stop is None and attempt >= policy.max_attempts:
        return None
    if isinstance(exc, InvalidNonceError):
        # An ordering problem on our side, not server distress: capped per call, budget-free.
        if nonce_retries >= policy.max_nonce_retries:
            return None
    elif isinstance(exc, RateLimitError):
        if exc.retry_at is not None and exc.retry_at - now > policy.max_throttle_wait:
            return None
    elif not budget.can_retry():
        return None
    if policy.wait is not None:
        return 0.0
    return backoff(policy, exc, attempt, now=now, rng=rng, paced=paced)


def throttle_too_long(operation: str, until: float, now: float, max_wait: float) -> RateLimitError:
    """The error of a call that would have to wait past ``max_throttle_wait`` (until ``until``,
    Unix seconds): Kraken's ``Throttled`` hold, or the call-counter model's."""
    try:
        when = datetime.datetime.fromtimestamp(until, datetime.timezone.utc).isoformat(
            timespec="seconds"
        )
    except (OverflowError, OSError, ValueError):
        when = f"{until:.0f}"
    return RateLimitError(
        f"{operation}: this API key may not send until {when} ({until - now:.0f} s from now), "
        f"longer than max_throttle_wait ({max_wait:g} s); not sent",
        operation=operation,
        retry_at=until,
    )


def throttled_beyond(policy: RetryPolicy, exc: BaseException, now: float) -> RateLimitError | None:
    """For a ``Throttled`` answer whose time is beyond ``policy.max_throttle_wait``: the error
    naming that time (else ``None``)."""
    if not isinstance(exc, RateLimitError) or exc.retry_at is None:
        return None
    if exc.retry_at - now <= policy.max_throttle_wait:
        return None
    return throttle_too_long(exc.operation or "call", exc.retry_at, now, policy.max_throttle_wait)


def retry_policy(field: str, value: object) -> RetryPolicy | None:
    """``None``, a ``RetryPolicy``, or a tenacity retrier converted
    with ``RetryPolicy.from_tenacity()`` (tenacity is already loaded when one is given)."""
    if value is None or isinstance(value, RetryPolicy):
        return value
    tenacity = sys.modules.get("tenacity")
    if tenacity is not None and isinstance(value, tenacity.BaseRetrying):
        try:
            return RetryPolicy.from_tenacity(value)
        except ValidationError as exc:
            raise ValidationError(field, exc.reason) from None
    raise ValidationError(
        field,
        "must be a RetryPolicy, a tenacity Retrying/AsyncRetrying or None, "
        f"got {type(value).__name__}",
    )


def retry_fields(policy: RetryPolicy) -> None:
    """The fields of a ``RetryPolicy``: whole attempt counts, finite non-negative seconds."""
    integer("max_attempts", policy.max_attempts, minimum=1)
    integer("max_nonce_retries", policy.max_nonce_retries, minimum=0)
    for field in ("initial_backoff", "rate_limit_backoff", "max_backoff", "max_throttle_wait"):
        seconds(field, getattr(policy, field), allow_zero=True)
    if not isinstance(policy.jitter, bool):
        raise ValidationError("jitter", f"must be a bool, got {type(policy.jitter).__name__}")
    for field in _STRATEGIES:
        strategy = getattr(policy, field)
        if strategy is not None and not callable(strategy):
            raise ValidationError(
                field,
                "must be a tenacity strategy or a callable taking a RetryCallState, "
                f"got {type(strategy).__name__}",
            )
    if policy.max_elapsed is not None:
        seconds("max_elapsed", policy.max_elapsed, allow_zero=False)

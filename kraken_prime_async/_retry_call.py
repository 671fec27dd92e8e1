"""One call's retries: the decisions after each failed attempt, the call's ``max_elapsed``
deadline, and whether a write whose lost answer was proven not applied may be sent again.

``Retries`` is built by the pipeline's loop (``_pipeline.Pipeline._run``) at a call's first
failure, never for a call that succeeds. It asks the SDK's rules first (``_retry.next_delay``),
then the policy's tenacity strategies (``_tenacity.CallState``, imported only then), then the
deadline. The deadline cuts each attempt's timeout and pacing wait to what is left
(``limit_attempt()``); it is checked between attempts, never by cancelling one.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._constants import LOGGER_NAME
from ._retry import RetryPolicy, next_delay, throttled_beyond
from ._timeout import RequestTimeout
from .errors import InvalidNonceError, RateLimitError

if TYPE_CHECKING:
    from ._call import _Call
    from ._keys.gate import KeyGate, NoGate

logger = logging.getLogger(LOGGER_NAME)

#: Shortest timeout an attempt under a deadline is given, in seconds.
MIN_ATTEMPT_TIMEOUT = 0.001


async def may_resend(
    policy: RetryPolicy, attempts: int, error: BaseException, *, started: float, now: float
) -> bool:
    """Whether a write whose lost answer was proven not applied may be sent again after
    ``attempts`` sends: while ``max_attempts`` allows (or the ``stop`` strategy, which sees the
    lost answer's error, ``attempt_number=attempts`` and no upcoming sleep), and while the
    write's ``max_elapsed`` (from ``started``; ``now`` on the same clock) has time left."""
    if policy.max_elapsed is not None and now >= started + policy.max_elapsed:
        return False
    if policy.stop is None:
        return attempts < policy.max_attempts
    from ._tenacity import CallState

    state = CallState(getattr(error, "operation", None) or "call", started)
    return not await state.stops(policy, error, attempts, now)


def cut_timeout(timeout: RequestTimeout, left: float) -> RequestTimeout:
    """``timeout`` with every budget cut to ``left`` seconds (unchanged when it fits; never below
    ``MIN_ATTEMPT_TIMEOUT``: a wait that overslept by a scheduler tick still gets a try)."""
    left = max(left, MIN_ATTEMPT_TIMEOUT)
    total = timeout.total
    if total is not None and total <= left:
        return timeout
    return RequestTimeout(
        total=left,
        connect=None if timeout.connect is None else min(timeout.connect, left),
        sock_read=None if timeout.sock_read is None else min(timeout.sock_read, left),
        sock_connect=None if timeout.sock_connect is None else min(timeout.sock_connect, left),
    )


def limit_attempt(call: _Call, left: float) -> None:
    """The next attempt of a call with a deadline: its timeout and any pacing wait fit in the
    ``left`` seconds."""
    call.timeout = cut_timeout(call.timeout, left)
    call.max_wait = min(call.policy.max_throttle_wait, left)


def deadline_crossed(
    operation: str, until: float, now: float, max_elapsed: float
) -> RateLimitError:
    """The error of a call whose wait for the key (Kraken's ``Throttled`` time, or the call
    counter's pacing) would end at ``until`` (Unix seconds), past the call's deadline."""
    return RateLimitError(
        f"{operation}: this API key may not send for {until - now:.2f} s, past the call's "
        f"deadline (max_elapsed={max_elapsed:g} s); not sent again",
        operation=operation,
        retry_at=until,
    )


class Retries:
    """One call's retry decisions, built at its first failure (a call that succeeds builds none).

    ``after(exc)`` returns the wait before the next attempt, or ``None`` when the call ends with
    ``exc``; it raises instead when a wait would cross the call's deadline. The SDK's rules come
    first (``next_delay()``), then the user's tenacity strategies (``_tenacity.CallState``),
    then the deadline: a retry starts only if what is left after its wait covers the longest
    attempt this call has made, and its timeout is cut to what is left.
    """

    __slots__ = (
        "attempt",
        "attempt_started",
        "call",
        "clock",
        "elapsed",
        "gate",
        "longest",
        "rng",
        "tenacity",
    )

    def __init__(
        self,
        call: _Call,
        started: float,
        *,
        elapsed: Callable[[], float],
        clock: Callable[[], float],
        rng: random.Random,
        gate: KeyGate | NoGate,
    ) -> None:
        self.call = call
        self.attempt = 1  # the policy's attempts in this run (an auth re-send is inside one)
        self.attempt_started = started
        self.longest = 0.0
        self.elapsed = elapsed
        self.clock = clock
        self.rng = rng
        self.gate = gate  # its ``paced``: rate-limit backoff is left to the pacing
        self.tenacity: Any = None
        if call.policy.has_strategies:
            from ._tenacity import CallState

            self.tenacity = CallState(call.endpoint.operation, started)

    async def after(self, exc: Exception) -> float | None:
        """The wait before the next attempt after ``exc``, or ``None``: the call ends."""
        call, policy = self.call, self.call.policy
        now, wall = self.elapsed(), self.clock()
        self.longest = max(self.longest, now - self.attempt_started)
        if call.deadline is not None:
            self._check_wait(exc, wall, call.deadline - now)
        delay = next_delay(
            policy,
            call.budget,
            exc,
            self.attempt,
            call.nonce_retries,
            now=wall,
            rng=self.rng,
            paced=self.gate.paced,
        )
        if delay is None:
            beyond = throttled_beyond(policy, exc, wall)
            if beyond is not None:
                raise beyond from exc
            return None
        if self.tenacity is not None:
            floor = _throttled_for(exc, wall)
            # attempt_number: the call's requests so far (an earlier send of the same write, whose
            # lost answer was proven not applied, included).
            number = call.attempts
            delay = await self.tenacity.retry_after(policy, exc, number, now, delay, floor)
            if delay is None:
                return None
        if call.deadline is not None and now + delay + self.longest > call.deadline:
            logger.info(
                "%s: not retried: after a %.2fs wait the next attempt (up to %.2fs, the longest "
                "so far) could not finish within max_elapsed (%.2fs left)",
                call.endpoint.operation,
                delay,
                self.longest,
                call.deadline - now,
                extra={"request_id": call.request_id},
            )
            return None
        if isinstance(exc, InvalidNonceError):
            call.nonce_retries += 1
        return delay

    def _check_wait(self, exc: Exception, wall: float, left: float) -> None:
        """A wait for the key (``Throttled``, pacing) that would cross the deadline: raise."""
        if (
            isinstance(exc, RateLimitError)
            and exc.retryable
            and exc.retry_at is not None
            and exc.retry_at - wall > left
        ):
            max_elapsed = self.call.policy.max_elapsed or 0.0
            operation = self.call.endpoint.operation
            raise deadline_crossed(operation, exc.retry_at, wall, max_elapsed) from exc

    async def before_sleep(self, delay: float) -> None:
        """The retry is decided: the user's ``before_sleep``, with ``next_action`` set."""
        if self.tenacity is not None:
            await self.tenacity.before_sleep(self.call.policy, delay)

    def slept(self) -> None:
        """The wait is over: the next attempt starts now (within what is left)."""
        self.attempt += 1
        call = self.call
        if call.deadline is not None:
            self.attempt_started = now = self.elapsed()
            limit_attempt(call, call.deadline - now)


def _throttled_for(exc: Exception, now: float) -> float:
    """Seconds until a ``Throttled`` time (the least any wait may be), else 0."""
    if isinstance(exc, RateLimitError) and exc.retry_at is not None:
        return max(0.0, exc.retry_at - now)
    return 0.0

"""tenacity's side of a retry policy: a retrier's strategies, and one call's ``RetryCallState``.

Imported only when a policy is built from a tenacity retrier (``strategies_of()``) or when a
call whose policy has tenacity strategies fails (``CallState``): ``import
kraken_prime_async`` never imports tenacity, and a call that succeeds builds nothing.

A user's retrier is read once, never iterated: its ``stop``, ``wait``, ``retry`` and
``before_sleep`` are kept, each call evaluates them on its own fresh ``RetryCallState``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from inspect import isawaitable
from typing import Any

import tenacity

from .errors import ValidationError

#: The retrier a call's state names as its ``retry_object`` (read by tenacity only when the state
#: has no ``fn``; ours always has one). Never iterated.
_PLACEHOLDER = tenacity.AsyncRetrying(name="kraken_prime_async")

#: What a retrier may set that the SDK cannot honour: (attribute, tenacity's default).
_REFUSED: tuple[tuple[str, object], ...] = (
    ("retry_error_callback", None),
    ("before", tenacity.before_nothing),
    ("after", tenacity.after_nothing),
)


def strategies_of(retrying: object) -> dict[str, Any]:
    """A tenacity ``Retrying``/``AsyncRetrying``'s strategies, as ``RetryPolicy`` fields.

    tenacity's defaults (``stop_never``, ``wait_none()``, retry on any exception, no
    ``before_sleep``) are dropped, so the SDK's own attempt cap and backoff stay in force. A
    disabled retrier (``enabled=False``) becomes ``max_attempts=1``.
    """
    if not isinstance(retrying, tenacity.BaseRetrying):
        raise ValidationError(
            "retry",
            "must be a RetryPolicy, a tenacity Retrying/AsyncRetrying or None, "
            f"got {type(retrying).__name__}",
        )
    refused = [
        name for name, default in _REFUSED if getattr(retrying, name, None) not in (None, default)
    ]
    if refused:
        raise ValidationError(
            "retry",
            f"the retrier sets {', '.join(refused)}, which the SDK does not run: a call raises "
            "its own error (never tenacity.RetryError) and reports every attempt itself; use "
            "before_sleep, on_event= or the kraken_prime_async logger instead",
        )
    fields: dict[str, Any] = {}
    if retrying.stop is not tenacity.stop_never:
        fields["stop"] = retrying.stop
    if type(retrying.wait) is not tenacity.wait_none:
        fields["wait"] = retrying.wait
    if not _retries_any_exception(retrying.retry):
        fields["retry"] = retrying.retry
    if retrying.before_sleep is not None:
        fields["before_sleep"] = retrying.before_sleep
    if not getattr(retrying, "enabled", True):
        fields["max_attempts"] = 1
    return fields


def _retries_any_exception(retry: object) -> bool:
    return type(retry) is tenacity.retry_if_exception_type and retry.exception_types is Exception


@functools.lru_cache(maxsize=256)
def _named(operation: str) -> Callable[..., Any]:
    """A stand-in for the retried function: tenacity's messages name the operation with it
    (``before_sleep_log``: "Retrying kraken_prime_async.GetPrimeApiUser in 0.4 seconds ...")."""

    def operation_call(*args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{operation} is run by the SDK's pipeline, not called through tenacity")

    operation_call.__name__ = operation_call.__qualname__ = operation
    operation_call.__module__ = "kraken_prime_async"
    return operation_call


class _Failed(tenacity.Future):
    """A finished attempt that raised ``exc``, as tenacity's strategies read it (``failed``,
    ``exception()``, ``result()``, ``attempt_number``), without the lock and condition a
    ``concurrent.futures.Future`` builds for waiters: nothing ever waits on it."""

    def __init__(self, attempt_number: int, exc: BaseException) -> None:  # no Future.__init__
        self.attempt_number = attempt_number
        self._failure = exc

    @property
    def failed(self) -> bool:
        return True

    def done(self) -> bool:
        return True

    def cancelled(self) -> bool:
        return False

    def running(self) -> bool:
        return False

    def exception(self, timeout: float | None = None) -> BaseException:
        return self._failure

    def result(self, timeout: float | None = None) -> Any:
        raise self._failure

    def add_done_callback(self, fn: Callable[[Any], object]) -> None:
        fn(self)

    def __repr__(self) -> str:
        return f"<attempt {self.attempt_number} failed: {type(self._failure).__name__}>"


class CallState:
    """One call's ``tenacity.RetryCallState``, built at its first failure and driven by the
    client's clock: ``start_time`` is the call's start, ``outcome_timestamp`` each failure's
    time, ``attempt_number`` counts the call's attempts (a write sent again after its lost answer
    was proven not applied continues its count)."""

    __slots__ = ("state",)

    def __init__(self, operation: str, started: float) -> None:
        state = tenacity.RetryCallState(_PLACEHOLDER, _named(operation), (), {})
        state.start_time = started
        self.state = state

    async def stops(self, policy: Any, exc: BaseException, attempt_number: int, now: float) -> bool:
        """The user's ``stop`` after attempt ``attempt_number`` failed with ``exc``, with no
        upcoming sleep."""
        self._failed(exc, attempt_number, now)
        stop = policy.stop(self.state)
        return bool(await stop if isawaitable(stop) else stop)

    def _failed(self, exc: BaseException, attempt_number: int, now: float) -> None:
        state = self.state
        state.attempt_number = attempt_number
        state.outcome, state.outcome_timestamp = _Failed(attempt_number, exc), now
        state.next_action = None
        state.upcoming_sleep = 0.0

    async def retry_after(
        self,
        policy: Any,
        exc: BaseException,
        attempt_number: int,
        now: float,
        delay: float,
        floor: float,
    ) -> float | None:
        """After the SDK's rules allowed a retry in ``delay`` seconds: the user's ``retry`` (it
        may only say no), ``wait`` (replaces ``delay``, never below ``floor``, a ``Throttled``
        time) and ``stop`` (sees the upcoming sleep). The delay, or ``None``: stop here."""
        self._failed(exc, attempt_number, now)
        state = self.state
        # An AsyncRetrying's coroutine strategies are awaited (inline: no coroutine per call).
        if policy.retry is not None:
            retry = policy.retry(state)
            if not (await retry if isawaitable(retry) else retry):
                return None
        if policy.wait is not None:
            wait = policy.wait(state)
            delay = max(float(await wait if isawaitable(wait) else wait), floor)
        state.upcoming_sleep = delay
        if policy.stop is not None:
            stop = policy.stop(state)
            if await stop if isawaitable(stop) else stop:
                return None
        return delay

    async def before_sleep(self, policy: Any, delay: float) -> None:
        """The retry is decided: ``next_action`` and ``idle_for`` set, the user's hook called."""
        state = self.state
        state.next_action = tenacity.RetryAction(delay)
        state.idle_for += delay
        if policy.before_sleep is not None:
            done = policy.before_sleep(state)
            if isawaitable(done):
                await done

"""One call's state (``_Call``) and the pipeline's phase hooks: what happens around each
phase of a call, in one place.

``Pipeline`` calls one hook per phase with the call's state: the client's
counters (``ClientStats``), the package's log records (metadata only, each with the call's
``request_id``) and, when the client has an observer, the call's events and spans
(``_observability``; without one each hook tests one attribute).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._constants import LOGGER_NAME, PACING_WARNING_SECONDS
from ._error_map import error_code
from ._observability.context import abandon_reason, enter_call, new_request_id
from ._stats import ClientStats
from ._transports.base import RawResponse
from .errors import InvalidNonceError, KrakenPrimeError, OutcomeUnknownError, RateLimitError

if TYPE_CHECKING:
    from ._auth import CallAuth
    from ._endpoint import Endpoint
    from ._observability.observer import Observer
    from ._retry import RetryBudget, RetryPolicy
    from ._timeout import RequestTimeout

logger = logging.getLogger(LOGGER_NAME)

#: The next step after a write cancelled in flight (the warning's last words).
_CHECK_THE_STATE = "check the state before trying again"
_CANCELLED_NEXT_STEP = {
    "SettlePrimeSettlementBatchAsset": (
        "settle_batch (and `kraken-prime settle`) is safe to run again: it reads the batch "
        "first and skips a leg that shows it started, so no leg is settled twice"
    ),
}
#: ``on_sent(fence, request_id)``: see ``_Call.on_sent``.
OnSent = Callable[[int | None, str], Awaitable[None]]


class LostRequest:
    """Where the pipeline leaves what it knows of a write whose answer was lost.

    The resource that settles lost answers (``Resource._written``) passes one to
    ``call()``; when the call raises ``OutcomeUnknownError``, ``fence`` is
    the lowest nonce that, once Kraken accepts it on the key, fences the lost request off
    (``None`` without a nonce), and ``late`` the watched attempt's late answer. Internal: never in
    messages or logs.
    """

    __slots__ = ("fence", "late")

    def __init__(self) -> None:
        self.fence: int | None = None
        #: The lost attempt's answer when the client watched its exchange to its end (a
        #: ``_pipeline.LateAnswer``; ``None`` otherwise).
        self.late: Any = None


class _Call:
    """State of one call across its attempts (never shared between calls).

    Every phase hook receives it: what a call's events need to carry (an id, timings) belongs
    here. ``request_id`` is made on first use; ``started`` and ``trace`` are the observer's.
    """

    __slots__ = (
        "_request_id",
        "attempts",
        "auth",
        "budget",
        "deadline",
        "done",
        "endpoint",
        "lost",
        "max_wait",
        "nonce_retries",
        "observer",
        "on_sent",
        "paced",
        "params",
        "policy",
        "started",
        "timeout",
        "trace",
    )

    def __init__(
        self,
        endpoint: Endpoint[Any, Any],
        params: bytes,
        timeout: RequestTimeout,
        policy: RetryPolicy,
        budget: RetryBudget,
        auth: CallAuth,
        observer: Observer | None,
        request_id: str | None = None,
        on_sent: OnSent | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.params = params
        self.timeout = timeout
        self.policy = policy
        self.budget = budget
        self.auth = auth  # the auth strategy's flow for this call
        self.observer = observer
        self.attempts = 0  # sends so far
        self.nonce_retries = 0
        self.paced = 0.0  # seconds waited for the key's rate limit, over every attempt
        #: ``max_elapsed``: when the call must be over (the client's clock), and the longest wait
        #: for pacing or a ``Throttled`` hold an attempt may take (cut to what is left).
        self.deadline: float | None = None
        self.max_wait = policy.max_throttle_wait
        self.done = False
        self._request_id = request_id
        self.started = 0.0
        self.trace: Any = None
        #: Awaited just before each attempt goes on the wire with its nonce fence and the call's
        #: request id (the write journal records the attempt); raising stops the attempt unsent.
        self.on_sent = on_sent
        self.lost: LostRequest | None = None  # set by the caller that reads back a lost write

    @property
    def request_id(self) -> str:
        """The call's id, made on first use (a call nobody looks at never makes one)."""
        request_id = self._request_id
        if request_id is None:
            request_id = self._request_id = new_request_id()
        return request_id


class PhaseHooks:
    """Counters, logging and observer calls for each phase of a call (a base of ``Pipeline``)."""

    stats: ClientStats

    def _call_started(self, call: _Call) -> None:
        if not call.attempts:  # a write sent again is the same call
            self.stats.calls += 1
        enter_call(call)
        if call.observer is not None:
            call.observer.call_started(call)

    def _attempt_finished(
        self, call: _Call, status: int | None, started: float, exc: KrakenPrimeError | None
    ) -> None:
        if call.observer is not None:
            call.observer.attempt_finished(
                call, status, started, None if exc is None else error_code(exc)
            )
        if exc is None:
            call.budget.record_success()
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "%s attempt=%d status=%s latency_ms=%.1f",
                    call.endpoint.operation,
                    call.attempts,
                    status,
                    (time.perf_counter() - started) * 1000,
                    extra={"request_id": call.request_id},
                )
            return
        if isinstance(exc, InvalidNonceError):
            self.stats.nonce_rejections += 1
        elif isinstance(exc, RateLimitError):
            self.stats.rate_limit_errors += 1
        elif exc.retryable:
            call.budget.record_failure()
        if logger.isEnabledFor(logging.INFO):  # no formatting work when nobody listens
            logger.info(
                "%s attempt=%d status=%s latency_ms=%.1f error=%s",
                call.endpoint.operation,
                call.attempts,
                status if status is not None else "-",
                (time.perf_counter() - started) * 1000,
                error_code(exc),
                extra={"request_id": call.request_id},
            )

    def _attempt_abandoned(self, call: _Call, exc: KrakenPrimeError | None) -> None:
        """The request was sent and no answer came back (``exc``; ``None``: the caller cancelled
        the call). It may still reach Kraken: the key's slot is held (``_keys.gate``)."""
        self.stats.abandoned += 1
        reason = abandon_reason(exc)
        if exc is None and not call.endpoint.idempotent:
            self.stats.cancelled_writes += 1
            logger.warning(
                "%s: cancelled after the request was sent (attempt %d); whether it took effect "
                "is unknown: %s",
                call.endpoint.operation,
                call.attempts,
                _CANCELLED_NEXT_STEP.get(call.endpoint.operation, _CHECK_THE_STATE),
                extra={"request_id": call.request_id},
            )
        else:
            logger.info(
                "%s: attempt %d abandoned after sending (%s): the request may still reach Kraken",
                call.endpoint.operation,
                call.attempts,
                reason,
                extra={"request_id": call.request_id},
            )
        if call.observer is not None:
            call.observer.request_abandoned(call, reason)

    def _watch_late_answer(
        self, call: _Call, exchange: asyncio.Future[Any], redact: Callable[[str], str]
    ) -> None:
        """A write abandoned after sending is watched to its end (``_keys/watch.py``): when its
        answer arrives, say what it was: a write that took effect although its caller got an
        error is logged at WARNING, counted and reported (``late_answer`` event)."""
        attempt = call.attempts

        def arrived(done: asyncio.Future[Any]) -> None:
            if done.cancelled() or not isinstance(done.result(), RawResponse):
                return  # no answer after all: the connection ended or the watch gave up
            error, result_id = None, None
            try:
                result = call.endpoint.decode(done.result(), redact=redact)
            except KrakenPrimeError as exc:
                error = error_code(exc)
            else:
                made = getattr(result, "id", None)
                result_id = made if isinstance(made, str) else None
                self.stats.abandoned_writes_applied += 1
                logger.warning(
                    "%s: the answer to attempt %d, abandoned after sending, arrived later: the "
                    "write took effect%s",
                    call.endpoint.operation,
                    attempt,
                    "" if result_id is None else f" ({result_id})",
                    extra={"request_id": call.request_id},
                )
            if call.observer is not None:
                call.observer.late_answer(call, attempt, error, result_id)

        exchange.add_done_callback(arrived)

    def _retry_scheduled(self, call: _Call, exc: Exception, attempt: int, delay: float) -> None:
        reason = error_code(exc)
        rate_limited = isinstance(exc, RateLimitError) and delay > 0
        if rate_limited:
            self.stats.rate_limit_waits += 1
            self.stats.rate_limit_wait_seconds += delay
            call.paced += delay
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s retrying after attempt %d in %.2fs (%s)",
                call.endpoint.operation,
                attempt,
                delay,
                reason,
                extra={"request_id": call.request_id},
            )
        if call.observer is not None:
            call.observer.retry_scheduled(call, attempt, delay, reason)
            if rate_limited:
                call.observer.rate_limit_wait(call, delay, "rate_limited")

    def _pacing_reason(self) -> str:
        """Why the key's calls wait for its rate limit (the client's gate says)."""
        return "Kraken refused calls for rate"

    def _call_finished(self, call: _Call, exc: BaseException | None) -> None:
        call.done = True
        if call.paced > PACING_WARNING_SECONDS:
            logger.warning(
                "%s waited %.1f s in total for the key's rate limit: %s",
                call.endpoint.operation,
                call.paced,
                self._pacing_reason(),
                extra={"request_id": call.request_id},
            )
        if exc is None:
            self.stats.successes += 1
        else:
            if isinstance(exc, KrakenPrimeError):
                exc.request_id = call.request_id  # the one place a call's errors get its id
            self.stats.failures += 1
            if isinstance(exc, OutcomeUnknownError):
                self.stats.outcome_unknown += 1
            elif isinstance(exc, InvalidNonceError) and exc.cooldown_until is not None:
                self.stats.nonce_cooldowns += 1  # the key rests: this call sent nothing more
        if call.observer is not None:
            call.observer.call_finished(call, exc)

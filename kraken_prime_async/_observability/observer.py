"""The observer: turns a call's phases into ``events`` for an ``on_event`` callback and hands
them to the OpenTelemetry sink.

Imported by ``build_observer`` (the wing's ``__init__``) only when a client has something
listening, so a client without listeners never loads this module or ``kraken_prime_async.events``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._error_map import error_code
from ..errors import OutcomeUnknownError
from ..events import (
    AttemptFinished,
    CallFinished,
    CallStarted,
    Event,
    LateAnswer,
    OutcomeUnknown,
    RateLimitWait,
    Reconciled,
    RequestAbandoned,
    RetryScheduled,
)
from .context import CallState, EventCallback, logger

if TYPE_CHECKING:
    from .otel import OtelSink


class Observer:
    """One client's listeners: an ``on_event`` callback and/or an OpenTelemetry sink.

    The pipeline calls one method per phase only when the client has an observer.
    """

    __slots__ = ("_callback", "_clock", "_failures", "otel")

    def __init__(
        self,
        callback: EventCallback | None,
        otel: OtelSink | None,
        clock: Callable[[], float],
    ) -> None:
        self._callback = callback
        self.otel = otel
        self._clock = clock
        self._failures = 0

    def _emit(self, event: Event) -> None:
        callback = self._callback
        assert callback is not None
        try:
            callback(event)
        except Exception as exc:
            # Logged with its traceback the first time, briefly afterwards: a broken callback
            # must neither break the call nor flood the log.
            self._failures += 1
            logger.log(
                logging.WARNING if self._failures == 1 else logging.DEBUG,
                "on_event callback raised %s on %s (ignored; %d so far)",
                type(exc).__name__,
                event.name,
                self._failures,
                exc_info=self._failures == 1,
                extra={"request_id": event.request_id},
            )

    def _tell(self, kind: type[Event], call: CallState, **fields: Any) -> None:
        self._emit(
            kind(
                request_id=call.request_id,
                operation=call.endpoint.operation,
                timestamp=self._clock(),
                **fields,
            )
        )

    def call_started(self, call: CallState) -> None:
        call.started = time.perf_counter()
        if self._callback is not None:
            self._tell(CallStarted, call, idempotent=call.endpoint.idempotent)
        if self.otel is not None:
            self.otel.call_started(call)

    def attempt_finished(
        self, call: CallState, status: int | None, started: float, error: str | None
    ) -> None:
        latency = time.perf_counter() - started
        if self._callback is not None:
            self._tell(
                AttemptFinished,
                call,
                attempt=call.attempts,
                status=status,
                latency=latency,
                error=error,
            )
        if self.otel is not None:
            self.otel.attempt_finished(call, status, latency, error)

    def retry_scheduled(self, call: CallState, attempt: int, delay: float, reason: str) -> None:
        if self._callback is not None:
            self._tell(RetryScheduled, call, attempt=attempt, delay=delay, reason=reason)
        if self.otel is not None:
            self.otel.retry_scheduled(call, attempt, delay, reason)

    def rate_limit_wait(self, call: CallState, seconds: float, reason: str) -> None:
        if self._callback is not None:
            self._tell(RateLimitWait, call, seconds=seconds, reason=reason)
        if self.otel is not None:
            self.otel.rate_limit_wait(call, seconds, reason)

    def request_abandoned(self, call: CallState, reason: str) -> None:
        if self._callback is not None:
            self._tell(
                RequestAbandoned,
                call,
                attempt=call.attempts,
                reason=reason,
                idempotent=call.endpoint.idempotent,
            )
        if self.otel is not None:
            self.otel.request_abandoned(call, reason)

    def late_answer(
        self, call: CallState, attempt: int, error: str | None, result_id: str | None
    ) -> None:
        if self._callback is not None:
            self._tell(
                LateAnswer,
                call,
                attempt=attempt,
                took_effect=error is None,
                error=error,
                result_id=result_id,
            )

    def call_finished(self, call: CallState, exc: BaseException | None) -> None:
        error = None if exc is None else type(exc).__name__
        if isinstance(exc, OutcomeUnknownError):
            if self._callback is not None:
                cause = exc.__cause__
                ambiguous = "OutcomeUnknownError" if cause is None else error_code(cause)
                self._tell(OutcomeUnknown, call, attempts=call.attempts, error=ambiguous)
            if self.otel is not None:
                self.otel.outcome_unknown(call)
        if self._callback is not None:
            duration = time.perf_counter() - call.started
            self._tell(
                CallFinished,
                call,
                ok=exc is None,
                error=error,
                attempts=call.attempts,
                duration=duration,
            )
        if self.otel is not None:
            self.otel.call_finished(call, exc)

    def reconciled(
        self,
        request_id: str,
        operation: str,
        how: str,
        resolved: bool,
        candidates: tuple[str, ...] = (),
    ) -> None:
        if self._callback is not None:
            self._emit(
                Reconciled(
                    request_id=request_id,
                    operation=operation,
                    timestamp=self._clock(),
                    resolved=resolved,
                    how=how,
                    candidates=candidates,
                )
            )

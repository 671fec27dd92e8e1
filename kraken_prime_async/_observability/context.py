"""Observability core: request ids, the call in progress, the log filter, the reconcile step.

A leaf of the wing: it imports nothing of ``observer``, ``otel`` or the pipeline (the shapes it
reads of them are the Protocols below), so every other module may import it.

* **Request ids.** Every call's state (``_call._Call``) makes its id on first use
  (``new_request_id()``, 32 hex characters): a call nobody looks at never pays for one. The call
  in progress (and after it, the last call) of the running task is held in a context variable:
  ``last_request_id()`` reads it, the log filter stamps it on records that do not carry one,
  and the pacing sleep (``pacing_sleep()``) reports its wait with it.
* **Events.** ``observer.Observer`` is built once per client (``build_observer``, in the wing's
  ``__init__``) only when there is something to tell: an ``on_event`` callback, OpenTelemetry
  providers, or global OpenTelemetry providers already set; it and ``events`` are imported then,
  not before. Without one the pipeline's hooks test one attribute and do nothing else.
* **OpenTelemetry** lives in ``otel`` and is imported only when used, so ``import
  kraken_prime_async`` never imports ``opentelemetry``.
* **Logging.** Every record of the package logger gets a ``request_id`` attribute
  (``REQUEST_ID_FILTER``); ``KRAKEN_PRIME_LOG`` is read by ``log_env``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import secrets
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Protocol

from .._constants import LOGGER_NAME
from ..errors import (
    APIConnectionError,
    APITimeoutError,
    KrakenPrimeError,
    OutcomeUnknownError,
)

if TYPE_CHECKING:
    from ..events import Event

logger = logging.getLogger(LOGGER_NAME)

#: ``on_event``: called with each event, inline.
EventCallback = Callable[["Event"], object]


def new_request_id() -> str:
    """A fresh request id: 32 random hex characters."""
    return secrets.token_hex(16)


# The shapes this module reads of the wing's other parts (``observer``, ``otel``) and of the
# pipeline (``_call``, ``_endpoint``): Protocols here, so this module imports none of them.


class EndpointInfo(Protocol):
    """What the hooks read of a call's endpoint (``_endpoint.Endpoint``)."""

    @property
    def operation(self) -> str: ...

    @property
    def idempotent(self) -> bool: ...

    @property
    def http_method(self) -> str: ...

    @property
    def path(self) -> str: ...


class ReconcileSink(Protocol):
    """What ``Reconciling`` tells OpenTelemetry (``otel.OtelSink``)."""

    def reconcile_started(self, step: Reconciling) -> Any: ...

    def reconcile_finished(
        self, traced: Any, step: Reconciling, resolved: bool, exc: BaseException | None
    ) -> None: ...


class Listener(Protocol):
    """What this module tells a client's observer (``observer.Observer``)."""

    @property
    def otel(self) -> ReconcileSink | None: ...

    def rate_limit_wait(self, call: CallState, seconds: float, reason: str) -> None: ...

    def reconciled(
        self,
        request_id: str,
        operation: str,
        how: str,
        resolved: bool,
        candidates: tuple[str, ...] = (),
    ) -> None: ...


class CallState(Protocol):
    """What the hooks read from a call's state (``_call._Call``)."""

    attempts: int
    done: bool
    started: float
    trace: Any

    @property
    def endpoint(self) -> EndpointInfo: ...

    @property
    def observer(self) -> Listener | None: ...

    @property
    def request_id(self) -> str: ...


class _Finished:
    """Stands for a call that is over when only its id is left (after a reconciliation)."""

    __slots__ = ("request_id",)
    done = True

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id


#: The call in progress in this context, or the last one (then its ``done`` is true).
_current: contextvars.ContextVar[CallState | _Finished | None] = contextvars.ContextVar(
    "kraken_prime_async_call", default=None
)
#: The id of the write being read back after a lost answer, while its rule runs.
_reconciling: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "kraken_prime_async_reconciling", default=None
)


#: ``enter_call(call)``: make ``call`` the current (and afterwards the last) call of this context
#: (the context variable's own ``set``: no extra frame on the hot path).
enter_call: Final = _current.set


def last_request_id() -> str | None:
    """The request id of the last call made by the running task, or ``None`` if it made none.

    Read it right after ``await client.<resource>.<method>(...)`` returns (or raises) to log the id
    of a call that succeeded. It follows the task's context: a call awaited directly (or through
    ``async with asyncio.timeout()``) is seen; a call run in another task (``create_task``,
    ``gather``, and ``asyncio.wait_for`` before Python 3.12) is not. For a write whose answer was
    lost and read back, it is the write's id, not the reads'.
    """
    call = _current.get()
    return None if call is None else call.request_id


class _RequestIdFilter(logging.Filter):
    """Gives every record of the package logger a ``request_id`` attribute: its own if it was
    logged with one (``extra=``), else the call in progress, else ``None``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "request_id" not in record.__dict__:
            request_id = _reconciling.get()
            if request_id is None:
                call = _current.get()
                if call is not None and not call.done:
                    request_id = call.request_id
            record.request_id = request_id
        return True


REQUEST_ID_FILTER: Final = _RequestIdFilter()
logger.addFilter(REQUEST_ID_FILTER)


def abandon_reason(exc: KrakenPrimeError | None) -> str:
    """``request_abandoned``'s reason for an unanswered request (``None``: cancelled)."""
    if exc is None:
        return "cancelled"
    if isinstance(exc, APITimeoutError):
        return "timeout"
    if isinstance(exc, APIConnectionError):
        return "connection_lost"
    return "gateway_timeout"


class Reconciling:
    """``with Reconciling(observer, operation, exc) as step: ...; step.how = rule.how``.

    Around a reconcile rule after a lost answer (``Resource._written``): log records of the rule
    carry the write's id, the reads it makes are children of a ``reconcile`` span, and at the end
    the write is the task's last call again, a ``reconciled`` event and an INFO record say how it
    ended, and an error that escapes carries the write's id.
    """

    __slots__ = ("_observer", "_operation", "_request_id", "_span", "_token", "how")

    def __init__(
        self, observer: Listener | None, operation: str, lost: OutcomeUnknownError
    ) -> None:
        self._observer = observer
        self._operation = operation
        self._request_id = lost.request_id or new_request_id()  # set by the pipeline
        self.how = "unresolved"

    def __enter__(self) -> Reconciling:
        self._token = _reconciling.set(self._request_id)
        otel = None if self._observer is None else self._observer.otel
        self._span = None if otel is None else otel.reconcile_started(self)
        return self

    @property
    def request_id(self) -> str:
        """The write's id."""
        return self._request_id

    @property
    def operation(self) -> str:
        """The write's operation."""
        return self._operation

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _reconciling.reset(self._token)
        _current.set(_Finished(self._request_id))
        resolved = exc is None
        if not resolved:
            self.how = "cancelled" if isinstance(exc, asyncio.CancelledError) else "unresolved"
            if isinstance(exc, KrakenPrimeError) and exc._request_id is None:
                exc.request_id = self._request_id
        logger.info(
            "%s: answer lost; %s by reading back (%s)",
            self._operation,
            "resolved" if resolved else "not resolved",
            self.how,
            extra={"request_id": self._request_id},
        )
        observer = self._observer
        if observer is not None:
            if observer.otel is not None and self._span is not None:
                observer.otel.reconcile_finished(self._span, self, resolved, exc)
            candidates = exc.candidates if isinstance(exc, OutcomeUnknownError) else ()
            observer.reconciled(self._request_id, self._operation, self.how, resolved, candidates)


def pacing_sleep(sleep: Callable[[float], Awaitable[None]]) -> Callable[[float], Awaitable[None]]:
    """``sleep`` for a key's call counter: says why and how long before it waits (INFO record and
    a ``rate_limit_wait`` event of the call being paced)."""

    async def paced(delay: float) -> None:
        call = _current.get()
        if call is not None and not isinstance(call, _Finished) and not call.done and delay > 0:
            operation = call.endpoint.operation
            logger.info(
                "%s: waiting %.2fs before sending: the key's rate limit (client-side pacing of "
                "its call counter, or a hold Kraken asked for)",
                operation,
                delay,
                extra={"request_id": call.request_id},
            )
            observer = call.observer
            if observer is not None:
                observer.rate_limit_wait(call, delay, "pacing")
        await sleep(delay)

    return paced

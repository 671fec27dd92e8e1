"""What a client reports about its calls, as typed events: ``PrimeClient(..., on_event=callback)``.

Every event is a frozen ``msgspec.Struct`` with

* ``name`` - the event's kind (``"call_started"``, ``"attempt_finished"``, ...), also its tag
  when encoded (``msgspec.json.encode(event)`` gives ``{"name": "call_started", ...}``);
* ``request_id`` - the call's id (32 hex characters), the same on every event of the call, on its
  log records, its spans and on any exception it raises (``exc.request_id``);
* ``operation`` - the API operation (``"ListPrimeApiUsers"``, ...);
* ``timestamp`` - when it happened, in seconds since the epoch (the client's ``clock``);

and the fields of its kind, below. One call reports, in order: ``call_started``, then per
attempt ``rate_limit_wait`` (when paced) and ``attempt_finished``, ``request_abandoned`` (when the
request left and no answer came back) and ``retry_scheduled`` (before a retry), then
``outcome_unknown`` (a write whose effect is unknown) and ``call_finished``. A write whose answer
was lost and read back reports ``reconciled`` after its ``call_finished`` (the reads it makes are
calls of their own, with their own ids); a write proven not applied is then sent again under the
same id.

Events carry metadata only: never an API key, secret, signature, token, nonce or request body.
The callback is called inline, on the event loop, in the task making the call: it must be quick
and must not block (hand the event to a queue or a logger). A callback that raises is logged
(WARNING) and ignored.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

__all__ = [
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


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="name", gc=False):
    """Fields every event has."""

    name: ClassVar[str]
    request_id: str
    operation: str
    timestamp: float


class CallStarted(_Event, frozen=True, kw_only=True, tag="call_started", gc=False):
    """A method call began.

    Attributes
    ----------
    idempotent : bool
        Whether the operation may be re-sent safely (reads, deletes by name, ...).
    """

    name: ClassVar[str] = "call_started"
    idempotent: bool


class AttemptFinished(_Event, frozen=True, kw_only=True, tag="attempt_finished", gc=False):
    """One request ended (an answer, an error, or the caller's cancellation).

    Attributes
    ----------
    attempt : int
        1 for the first request of the call, 2 for the first re-send, ...
    status : int or None
        The HTTP status (``None``: no answer).
    latency : float
        Seconds from handing the request to the transport to the end of decoding.
    error : str or None
        ``None`` on success, else Kraken's error code (``"EAPI:Invalid nonce"``), ``"HTTP 503"``
        or the exception's class (``"APITimeoutError"``, ``"CancelledError"``).
    """

    name: ClassVar[str] = "attempt_finished"
    attempt: int
    status: int | None
    latency: float
    error: str | None


class RetryScheduled(_Event, frozen=True, kw_only=True, tag="retry_scheduled", gc=False):
    """The retry policy will try again after ``delay`` seconds.

    Attributes
    ----------
    attempt : int
        The retry policy's attempt that failed (an immediate re-send with a refreshed token is
        inside one attempt).
    delay : float
        Seconds before the next attempt.
    reason : str
        What failed, as in ``AttemptFinished.error``.
    """

    name: ClassVar[str] = "retry_scheduled"
    attempt: int
    delay: float
    reason: str


class RateLimitWait(_Event, frozen=True, kw_only=True, tag="rate_limit_wait", gc=False):
    """The call waits because of the key's rate limit.

    Attributes
    ----------
    seconds : float
        How long it waits.
    reason : str
        ``"pacing"``: the client-side model of the key's call counter (or an ``EService:
        Throttled`` hold) holds the request back before it is sent; reported before the wait.
        ``"rate_limited"``: Kraken refused the previous attempt for rate; the wait before the
        retry (also reported as ``retry_scheduled``).
    """

    name: ClassVar[str] = "rate_limit_wait"
    seconds: float
    reason: str


class RequestAbandoned(_Event, frozen=True, kw_only=True, tag="request_abandoned", gc=False):
    """A request that had been handed to the transport got no answer: it may still reach Kraken.

    Attributes
    ----------
    attempt : int
        The request, as in ``AttemptFinished.attempt``.
    reason : str
        ``"timeout"`` (no answer in time), ``"cancelled"`` (the caller cancelled the call, e.g.
        ``asyncio.wait_for``), ``"connection_lost"`` (the connection dropped after sending) or
        ``"gateway_timeout"`` (a proxy's HTTP 504 page without Kraken's answer).
    idempotent : bool
        ``False`` for a write: its effect is unknown until it is read back.
    """

    name: ClassVar[str] = "request_abandoned"
    attempt: int
    reason: str
    idempotent: bool


class LateAnswer(_Event, frozen=True, kw_only=True, tag="late_answer", gc=False):
    """The answer to a write abandoned after it was sent (its caller timed out or cancelled the
    call) arrived later: the client kept the connection and read it in the background.

    Attributes
    ----------
    attempt : int
        The request, as in ``AttemptFinished.attempt``.
    took_effect : bool
        ``True``: Kraken accepted the write; it took effect although its caller got an error.
    error : str or None
        When it did not: what Kraken answered, as in ``AttemptFinished.error``.
    result_id : str or None
        The id of what the write made or touched, when its result names one (a user, key,
        batch or transfer id; never a secret).
    """

    name: ClassVar[str] = "late_answer"
    attempt: int
    took_effect: bool
    error: str | None = None
    result_id: str | None = None


class OutcomeUnknown(_Event, frozen=True, kw_only=True, tag="outcome_unknown", gc=False):
    """A write was sent but whether it took effect is unknown; it is not re-sent.

    Attributes
    ----------
    attempts : int
        Requests sent, the ambiguous one included.
    error : str
        What made it ambiguous, as in ``AttemptFinished.error``.
    """

    name: ClassVar[str] = "outcome_unknown"
    attempts: int
    error: str


class Reconciled(_Event, frozen=True, kw_only=True, tag="reconciled", gc=False):
    """A write whose answer was lost was read back (after its ``call_finished``).

    Attributes
    ----------
    resolved : bool
        ``True``: the read-back established the outcome, applied (the method returns the result
        it shows) or not applied (the write is sent again, under the same request id).
        ``False``: it did not, and the method raised ``OutcomeUnknownError``.
    how : str
        A short tag of the resolution: ``"found_batch"`` (the batch this call created),
        ``"leg_started"`` (the batch shows the leg settling), ``"found_user"``,
        ``"rename_shown"``, ``"delete_shown"``, ``"read_back"`` (another rule's result),
        ``"late_answer"`` (the lost attempt's own answer, read in the background, arrived),
        ``"not_applied"`` (sent again) or ``"unresolved"``.
    candidates : tuple of str
        Unresolved creates: the ids the read-back found and could not attribute (as
        ``OutcomeUnknownError.candidates``); nothing was claimed or deleted. Else empty.
    """

    name: ClassVar[str] = "reconciled"
    resolved: bool
    how: str
    candidates: tuple[str, ...] = ()


class CallFinished(_Event, frozen=True, kw_only=True, tag="call_finished", gc=False):
    """A method call ended.

    Attributes
    ----------
    ok : bool
        Whether it returned a result.
    error : str or None
        The class of the exception it raised (``"OutcomeUnknownError"``, ``"CancelledError"``,
        ...), ``None`` when ``ok``.
    attempts : int
        Requests sent (0 when it failed before sending).
    duration : float
        Seconds from ``call_started``, waits and retries included.
    """

    name: ClassVar[str] = "call_finished"
    ok: bool
    error: str | None
    attempts: int
    duration: float


#: Any event; ``msgspec.json.decode(data, type=Event)`` reads an encoded one back.
Event = (
    CallStarted
    | AttemptFinished
    | RetryScheduled
    | RateLimitWait
    | RequestAbandoned
    | LateAnswer
    | OutcomeUnknown
    | Reconciled
    | CallFinished
)

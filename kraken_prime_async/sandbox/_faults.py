"""Scriptable fault injection: the fault kinds, the queue, and what each kind sends back.

``sb.faults.add(operation, kind, times=1, ...)`` queues a fault (or use the helper named after the
kind: ``sb.faults.drop_after("SettlePrimeSettlementBatchAsset")``). Each incoming request takes the
first queued fault whose ``operation`` is its operation or ``None`` (any operation); the fault is
used up after ``times`` requests (``times=None``: forever).

A request goes: fault taken → body read → simulated latency → *delay before* → nonce check and
processing (unless the kind skips it) → the answer is built → request logged → *delay after* →
answer sent (or the connection closed).

=================  ===========================================================  ==========
kind               what the client sees                                         processed
=================  ===========================================================  ==========
``http_500``       HTTP 500, ``{"error":["EGeneral:Internal error"]}``          no [#]_
``http_502_html``  HTTP 502 with an HTML page                                   no [#]_
``http_503_html``  HTTP 503 with an HTML page                                   no [#]_
``delay_before``   the request waits ``seconds`` on its way in, then is          yes
                   nonce-checked and processed (a late request: its nonce may
                   be below one sent after it)
``delay``          alias of ``delay_before`` (the original ``delay``)           yes
``delay_after``    processed at once, the answer waits ``seconds`` (a slow      yes
                   answer: the client may time out after the state changed)
``drop_before``    the connection closes, nothing is processed or answered      no
``drop_after``     processed, then the connection closes without an answer      yes
``malformed_json`` HTTP 200 with the real answer truncated (invalid JSON)       yes
``error``          HTTP 200, ``{"error":[message],"result":{}}``                no [#]_
``throttled``      HTTP 200, ``EService: Throttled: <now + seconds>``           no [#]_
=================  ===========================================================  ==========

.. [#] Pass ``processed=True`` to apply the request's effect before answering with the fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final, Literal, get_args

import msgspec

from kraken_prime_async.sandbox._errors import ERR_INTERNAL
from kraken_prime_async.sandbox._records import Outcome

FaultKind = Literal[
    "http_500",
    "http_502_html",
    "http_503_html",
    "delay",
    "delay_before",
    "delay_after",
    "drop_before",
    "drop_after",
    "malformed_json",
    "error",
    "throttled",
]

FAULT_KINDS: Final[tuple[str, ...]] = get_args(FaultKind)
_DELAYS: Final = frozenset({"delay", "delay_before", "delay_after"})
_PROCESSED_BY_DEFAULT: Final = frozenset({*_DELAYS, "drop_after", "malformed_json"})
_OPTIONAL_PROCESSING: Final = frozenset(
    {"http_500", "http_502_html", "http_503_html", "error", "throttled"}
)
_HTML: Final = (
    "<html><head><title>{code} {reason}</title></head><body><center><h1>{code} {reason}</h1>"
    "</center><hr><center>cloudflare</center></body></html>"
)
_GATEWAY: Final = {"http_502_html": (502, "Bad Gateway"), "http_503_html": (503, "Unavailable")}


@dataclass(frozen=True)
class Fault:
    """One queued fault.

    Attributes
    ----------
    kind : FaultKind
        What goes wrong (see the module docstring).
    operation : str or None
        The operation it applies to (``"SettlePrimeSettlementBatchAsset"``,
        ``"CreateFastApiKey"``…), or ``None`` for any.
    times : int or None
        Requests left to hit; ``None`` means unlimited.
    seconds : float
        Delays: how long to wait; ``throttled``: how far in the future the retry time is.
    message : str or None
        ``error``: the Kraken error string to answer with.
    processed : bool
        Whether the request takes effect before the fault is delivered.
    """

    kind: FaultKind
    operation: str | None = None
    times: int | None = 1
    seconds: float = 0.0
    message: str | None = None
    processed: bool = False

    @property
    def delay_before(self) -> float:
        """Seconds the request waits before it is checked and processed."""
        return self.seconds if self.kind in ("delay", "delay_before") else 0.0

    @property
    def delay_after(self) -> float:
        """Seconds the answer waits after processing."""
        return self.seconds if self.kind == "delay_after" else 0.0


@dataclass(frozen=True)
class Rendered:
    """The answer to send: ``body is None`` means close the connection without answering."""

    status: int | None
    errors: tuple[str, ...]
    body: bytes | None
    content_type: str = "application/json"


def envelope(status: int, payload: dict[str, object]) -> Rendered:
    """A JSON answer; ``errors`` is the payload's ``error`` array."""
    errors = payload.get("error")
    listed = tuple(str(e) for e in errors) if isinstance(errors, list) else ()
    return Rendered(status, listed, msgspec.json.encode(payload))


def render(fault: Fault | None, outcome: Outcome, now: float) -> Rendered:
    """What the client gets for ``outcome`` once ``fault`` (if any) has rewritten it."""
    kind = None if fault is None else fault.kind
    if fault is None or kind in _DELAYS:
        return envelope(outcome.status, outcome.payload)
    if kind in ("drop_before", "drop_after"):
        return Rendered(None, (), None)
    if kind == "http_500":
        return envelope(500, {"error": [ERR_INTERNAL]})
    if kind in _GATEWAY:
        code, reason = _GATEWAY[kind]
        page = _HTML.format(code=code, reason=reason).encode()
        return Rendered(code, (), page, "text/html")
    if kind == "malformed_json":
        encoded = msgspec.json.encode(outcome.payload)
        return Rendered(200, outcome.errors, encoded[: max(1, len(encoded) // 2)])
    if kind == "throttled":
        message = f"EService: Throttled: {int(now + fault.seconds)}"
    else:
        message = fault.message or ERR_INTERNAL
    return envelope(200, {"error": [message], "result": {}})


class Faults:
    """The fault queue of one sandbox (``sb.faults``).

    Parameters
    ----------
    operations : Iterable[str]
        Operation names a fault may target; anything else is a typo and raises ``ValueError``.
    """

    def __init__(self, operations: Iterable[str]) -> None:
        self._operations = frozenset(operations)
        self._queue: list[Fault] = []

    def add(
        self,
        operation: str | None,
        kind: FaultKind,
        *,
        times: int | None = 1,
        seconds: float | None = None,
        message: str | None = None,
        processed: bool | None = None,
    ) -> Fault:
        """Queue a fault and return it.

        Parameters
        ----------
        operation : str or None
            Operation name to target, or ``None`` for any request.
        kind : FaultKind
            See the module docstring.
        times : int or None, default 1
            How many requests it hits; ``None`` for every matching request until cleared.
        seconds : float, optional
            Required for the delays; for ``throttled`` the retry time is ``now + seconds``
            (default 1).
        message : str, optional
            Required for ``error``, e.g. ``"EService:Unavailable"``.
        processed : bool, optional
            For ``http_500``, the HTML kinds, ``error`` and ``throttled``: apply the request
            before answering (default ``False``). Fixed for the other kinds.

        Raises
        ------
        ValueError
            On an unknown operation or kind, or missing/contradictory parameters.
        """
        if operation is not None and operation not in self._operations:
            raise ValueError(f"unknown operation {operation!r}")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if times is not None and (type(times) is not int or times < 1):
            raise ValueError("times must be an int >= 1 or None")
        if kind in _DELAYS and (seconds is None or not 0 <= seconds < float("inf")):
            raise ValueError(f"a {kind!r} fault needs seconds >= 0")
        if kind == "error" and not message:
            raise ValueError("an 'error' fault needs message=")
        if processed is not None and kind not in _OPTIONAL_PROCESSING:
            raise ValueError(f"processed= cannot be chosen for {kind!r}")
        if seconds is None:
            seconds = 1.0 if kind == "throttled" else 0.0
        fault = Fault(
            kind=kind,
            operation=operation,
            times=times,
            seconds=seconds,
            message=message,
            processed=kind in _PROCESSED_BY_DEFAULT if processed is None else processed,
        )
        self._queue.append(fault)
        return fault

    # -- one helper per kind, so a test reads as what happens --------------------------------

    def http_500(
        self, operation: str | None = None, *, times: int | None = 1, processed: bool = False
    ) -> Fault:
        """Answer HTTP 500 ``EGeneral:Internal error`` (``processed=True``: after the effect)."""
        return self.add(operation, "http_500", times=times, processed=processed)

    def gateway_html(
        self,
        operation: str | None = None,
        status: Literal[502, 503] = 502,
        *,
        times: int | None = 1,
        processed: bool = False,
    ) -> Fault:
        """Answer a proxy's HTML error page with HTTP 502 or 503."""
        kind: FaultKind = "http_502_html" if status == 502 else "http_503_html"
        return self.add(operation, kind, times=times, processed=processed)

    def delay_before(
        self, operation: str | None, seconds: float, *, times: int | None = 1
    ) -> Fault:
        """Hold the request ``seconds`` before its nonce is checked and it is processed."""
        return self.add(operation, "delay_before", times=times, seconds=seconds)

    def delay_after(self, operation: str | None, seconds: float, *, times: int | None = 1) -> Fault:
        """Process the request at once, then hold the answer ``seconds``."""
        return self.add(operation, "delay_after", times=times, seconds=seconds)

    def drop_before(self, operation: str | None = None, *, times: int | None = 1) -> Fault:
        """Close the connection without processing the request."""
        return self.add(operation, "drop_before", times=times)

    def drop_after(self, operation: str | None = None, *, times: int | None = 1) -> Fault:
        """Process the request, then close the connection: the answer is lost."""
        return self.add(operation, "drop_after", times=times)

    def malformed_json(self, operation: str | None = None, *, times: int | None = 1) -> Fault:
        """Process the request and answer a truncated (invalid) JSON body."""
        return self.add(operation, "malformed_json", times=times)

    def error(
        self,
        operation: str | None,
        message: str,
        *,
        times: int | None = 1,
        processed: bool = False,
    ) -> Fault:
        """Answer HTTP 200 with ``{"error": [message]}``, e.g. ``"EService:Unavailable"``."""
        return self.add(operation, "error", times=times, message=message, processed=processed)

    def throttled(
        self,
        operation: str | None = None,
        seconds: float = 1.0,
        *,
        times: int | None = 1,
        processed: bool = False,
    ) -> Fault:
        """Answer ``EService: Throttled: <now + seconds>``."""
        return self.add(operation, "throttled", times=times, seconds=seconds, processed=processed)

    # -- the queue -----------------------------------------------------------------------------

    def clear(self) -> None:
        """Drop every queued fault."""
        self._queue.clear()

    @property
    def pending(self) -> list[Fault]:
        """The queued faults in order (``times`` shows what is left)."""
        return list(self._queue)

    def __len__(self) -> int:
        return len(self._queue)

    def take(self, operation: str) -> Fault | None:
        """Consume one use of the first fault matching ``operation`` (server side)."""
        for index, fault in enumerate(self._queue):
            if fault.operation is None or fault.operation == operation:
                if fault.times is None:
                    return fault
                if fault.times <= 1:
                    del self._queue[index]
                else:
                    self._queue[index] = replace(fault, times=fault.times - 1)
                return replace(fault, times=1)
        return None

"""Scriptable fault injection.

``sb.faults.add(method, kind, times=1, ...)`` queues a fault. Each incoming request takes the first
queued fault whose ``method`` is its method or ``None`` (any method); the fault is used up after
``times`` requests (``times=None``: forever). Kinds:

========================  ==========================================================  =========
kind                      what the client sees                                        processed
========================  ==========================================================  =========
``http_500``              HTTP 500, ``{"error":["EGeneral:Internal error"]}``         no [#]_
``http_502_html``         HTTP 502 with an HTML page                                  no [#]_
``http_503_html``         HTTP 503 with an HTML page                                  no [#]_
``delay``                 the answer after ``seconds`` (to cause client timeouts)     yes
``drop_before``           the connection closes, nothing is answered                  no
``drop_after``            the connection closes after the request was processed      yes
``malformed_json``        HTTP 200 with the real answer truncated (invalid JSON)      yes
``error``                 HTTP 200, ``{"error":[message]}``                           no [#]_
``throttled``             HTTP 200, ``EService: Throttled: <now + seconds>``          no [#]_
========================  ==========================================================  =========

.. [#] Pass ``processed=True`` to apply the request's effect before answering with the fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final, Literal, get_args

FaultKind = Literal[
    "http_500",
    "http_502_html",
    "http_503_html",
    "delay",
    "drop_before",
    "drop_after",
    "malformed_json",
    "error",
    "throttled",
]

FAULT_KINDS: Final[tuple[str, ...]] = get_args(FaultKind)
_PROCESSED_BY_DEFAULT: Final = frozenset({"delay", "drop_after", "malformed_json"})
_OPTIONAL_PROCESSING: Final = frozenset(
    {"http_500", "http_502_html", "http_503_html", "error", "throttled"}
)


@dataclass(frozen=True)
class Fault:
    """One queued fault.

    Attributes
    ----------
    kind : FaultKind
        What goes wrong (see the module docstring).
    method : str or None
        The method it applies to (``"SettlePrimeSettlementBatchAsset"``, ``"CreateFastApiKey"``…),
        or ``None`` for any.
    times : int or None
        Requests left to hit; ``None`` means unlimited.
    seconds : float
        ``delay``: how long to wait; ``throttled``: how far in the future the retry time is.
    message : str or None
        ``error``: the Kraken error string to answer with.
    processed : bool
        Whether the request takes effect before the fault is delivered.
    """

    kind: FaultKind
    method: str | None = None
    times: int | None = 1
    seconds: float = 0.0
    message: str | None = None
    processed: bool = False


class Faults:
    """The fault queue of one sandbox (``sb.faults``).

    Parameters
    ----------
    methods : Iterable[str]
        Method names a fault may target; anything else is a typo and raises ``ValueError``.
    """

    def __init__(self, methods: Iterable[str]) -> None:
        self._methods = frozenset(methods)
        self._queue: list[Fault] = []

    def add(
        self,
        method: str | None,
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
        method : str or None
            Method name to target, or ``None`` for any request.
        kind : FaultKind
            See the module docstring.
        times : int or None, default 1
            How many requests it hits; ``None`` for every matching request until cleared.
        seconds : float, optional
            Required for ``delay``; for ``throttled`` the retry time is ``now + seconds``
            (default 1).
        message : str, optional
            Required for ``error``, e.g. ``"EService:Unavailable"``.
        processed : bool, optional
            For ``http_500``, the HTML kinds, ``error`` and ``throttled``: apply the request
            before answering (default ``False``). Fixed for the other kinds.

        Raises
        ------
        ValueError
            On an unknown method or kind, or missing/contradictory parameters.
        """
        if method is not None and method not in self._methods:
            raise ValueError(f"unknown method {method!r}")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        if kind == "delay" and (seconds is None or seconds < 0):
            raise ValueError("a 'delay' fault needs seconds >= 0")
        if kind == "error" and not message:
            raise ValueError("an 'error' fault needs message=")
        if processed is not None and kind not in _OPTIONAL_PROCESSING:
            raise ValueError(f"processed= cannot be chosen for {kind!r}")
        if seconds is None:
            seconds = 1.0 if kind == "throttled" else 0.0
        fault = Fault(
            kind=kind,
            method=method,
            times=times,
            seconds=seconds,
            message=message,
            processed=kind in _PROCESSED_BY_DEFAULT if processed is None else processed,
        )
        self._queue.append(fault)
        return fault

    def clear(self) -> None:
        """Drop every queued fault."""
        self._queue.clear()

    @property
    def pending(self) -> list[Fault]:
        """The queued faults in order (``times`` shows what is left)."""
        return list(self._queue)

    def __len__(self) -> int:
        return len(self._queue)

    def take(self, method: str) -> Fault | None:
        """Consume one use of the first fault matching ``method`` (server side)."""
        for index, fault in enumerate(self._queue):
            if fault.method is None or fault.method == method:
                if fault.times is None:
                    return fault
                if fault.times <= 1:
                    del self._queue[index]
                else:
                    self._queue[index] = replace(fault, times=fault.times - 1)
                return replace(fault, times=1)
        return None

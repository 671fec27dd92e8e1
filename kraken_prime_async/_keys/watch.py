"""Watching an abandoned request to its end instead of guessing how long it may travel.

A request the caller stopped waiting for (its timeout, a cancellation) after it was sent may
still reach Kraken. With a nonce window of 0 the key's next request must not overtake it. The
transport keeps such a request's exchange running in the background and hands it to the
attempt's slot (``hand_over()``): the slot stays taken until the exchange ends (the answer, or
the connection's end, is seen), at most ``ABANDON_WATCH_MAX`` seconds. Only when nothing can be
observed (a caller's own Transport, a gateway's error page) does the slot fall back to a hold
from ``LatencyEstimate``: a decaying high percentile of the key's recent answer times.

The attempt's slot is found through a context variable that ``Slot.sending
<.gate.Slot.sending>()`` sets just before the request goes to the transport: the transport's hook
stays one call (``hand_over()``, ``connection_ended()``), with no change to the Transport
seam.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final, Protocol

from .._constants import ABANDON_HOLD_MAX, DEFAULT_ABANDON_HOLD

#: ``abandon_hold="auto"`` when the request cannot be watched: this many times the key's
#: ``HOLD_QUANTILE`` answer time, at least ``DEFAULT_ABANDON_HOLD``, at most ``ABANDON_HOLD_MAX``.
HOLD_LATENCY_FACTOR: Final = 2.0
HOLD_QUANTILE: Final = 0.95
#: An answer time counts half as much every ``HOLD_HALF_LIFE`` seconds; the last
#: ``HOLD_SAMPLES`` answers are kept.
HOLD_HALF_LIFE: Final = 30.0
HOLD_SAMPLES: Final = 256


class Watcher(Protocol):
    """What an attempt's slot offers the transport (``Slot`` implements it)."""

    def can_watch(self) -> bool:
        """Whether ``watch()`` would keep the slot (``False``: the hold is off, or released)."""
        ...

    def watch(self, exchange: asyncio.Future[Any]) -> bool:
        """Keep the slot until ``exchange`` ends; ``False`` if the slot cannot (released)."""
        ...

    def ended(self) -> None:
        """The connection ended after the request was sent: nothing more can arrive."""
        ...


_sending: contextvars.ContextVar[Watcher | None] = contextvars.ContextVar(
    "kraken_prime_sending", default=None
)


def sending(watcher: Watcher | None) -> None:
    """The attempt of ``watcher`` hands its request to the transport now (this task);
    ``None``: an attempt with no slot to watch (a client without an API key)."""
    _sending.set(watcher)


def watching() -> bool:
    """Whether an exchange this task abandons would be followed to its end.

    When not (``abandon_hold=0``, no slot), the transport runs the exchange in the caller's
    task: a task of its own would cost a loop turn each way and nobody would read its end (a
    cancellation ends it either way)."""
    watcher = _sending.get()
    return watcher is not None and watcher.can_watch()


def hand_over(exchange: asyncio.Future[Any]) -> bool:
    """The transport stopped waiting for ``exchange`` (the caller gave up after sending): the
    attempt's slot follows it to its end. ``False``: nobody watches (cancel it instead)."""
    watcher = _sending.get()
    return watcher is not None and watcher.watch(exchange)


def connection_ended() -> None:
    """The transport saw the connection end after sending (the server closed it)."""
    watcher = _sending.get()
    if watcher is not None:
        watcher.ended()


class LatencyEstimate:
    """A decaying high percentile of one key's answer times (the fallback hold's basis).

    One slow answer minutes ago weighs little next to the answers since: the estimate is the
    ``HOLD_QUANTILE`` of the last ``HOLD_SAMPLES`` answer times, each weighted by
    ``0.5 ** (age / HOLD_HALF_LIFE)``.
    """

    __slots__ = ("_monotonic", "_samples")

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._samples: deque[tuple[float, float]] = deque(maxlen=HOLD_SAMPLES)

    def observe(self, latency: float) -> None:
        """An answer came back ``latency`` seconds after its request was sent."""
        self._samples.append((self._monotonic(), latency))

    def quantile(self, q: float = HOLD_QUANTILE) -> float:
        """The weighted ``q`` quantile of the answer times (0 before the first)."""
        if not self._samples:
            return 0.0
        now = self._monotonic()
        weighted = sorted(
            (latency, math.pow(0.5, max(0.0, now - at) / HOLD_HALF_LIFE))
            for at, latency in self._samples
        )
        target = q * sum(weight for _, weight in weighted)
        seen = 0.0
        for latency, weight in weighted:
            seen += weight
            if seen >= target:
                return latency
        return weighted[-1][0]

    def hold(self, setting: float | None) -> float:
        """How long an abandoned request that cannot be watched keeps its slot: ``setting``
        seconds when fixed; with ``None`` ("auto") ``HOLD_LATENCY_FACTOR`` x the quantile,
        clamped to ``[DEFAULT_ABANDON_HOLD, ABANDON_HOLD_MAX]``."""
        if setting is not None:
            return setting
        estimate = HOLD_LATENCY_FACTOR * self.quantile()
        return min(ABANDON_HOLD_MAX, max(DEFAULT_ABANDON_HOLD, estimate))

    def __repr__(self) -> str:
        return f"LatencyEstimate(samples={len(self._samples)}, p95={self.quantile():.3f}s)"

"""The in-process gate of one API key: how many of its requests may be on the wire at once.

Requests signed in nonce order can reach Kraken out of order (several connections, retries). With a
nonce window of 0 an overtaken request is rejected, so the default is one request in flight per
key: the slot is held until the answer arrives, so nonces reach Kraken in the order they were
issued. With a window ``W`` (in nonce units, set on the key at Kraken), an older request is still
accepted after a newer one as long as their nonces differ by less than ``W``. Up to
``max_in_flight`` requests may then overlap, but a new one waits while the oldest in flight has
been out for most of the window (its nonce would fall behind). The cap adapts: it halves on
``EAPI:Invalid nonce`` and grows back by one per cap's worth of successes (AIMD). One in-process
gate per API key and event loop is shared by every client, so two clients on one key do not race
each other.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Final

from .errors import InvalidNonceError

#: Fraction of the window a request may be in flight before new ones wait for it.
WINDOW_SAFETY: Final = 0.5


class Outcome(enum.Enum):
    """How an attempt ended, as far as the key's gates care (handed to every release).

    Derived from the exception the attempt ended with (:func:`outcome_of`), so a new kind of end
    (e.g. a request abandoned after it was sent) is one member here and one rule there.
    """

    #: Kraken answered and accepted the request: the adaptive cap may grow.
    SUCCEEDED = "succeeded"
    #: ``EAPI:Invalid nonce``: the cap halves.
    NONCE_REJECTED = "nonce_rejected"
    #: Any other end: an error answer, or nothing sent.
    FAILED = "failed"


def outcome_of(exc: BaseException | None) -> Outcome:
    """The :class:`Outcome` of an attempt that ended with ``exc`` (``None``: it succeeded)."""
    if exc is None:
        return Outcome.SUCCEEDED
    if isinstance(exc, InvalidNonceError):
        return Outcome.NONCE_REJECTED
    return Outcome.FAILED


class LocalGate:
    """FIFO in-flight gate for one key's requests in this process.

    Parameters
    ----------
    window_seconds : float
        The key's nonce window in seconds (0: strictly one request at a time).
    max_in_flight : int
        Upper bound of the adaptive cap when ``window_seconds > 0``.
    monotonic : callable, optional
        Clock for request ages.
    """

    def __init__(
        self,
        *,
        window_seconds: float,
        max_in_flight: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_seconds = window_seconds
        self.max_in_flight = 1 if window_seconds <= 0 else max_in_flight
        self._cap = float(self.max_in_flight)
        self._monotonic = monotonic
        self._in_flight: dict[int, float] = {}
        self._waiters: deque[asyncio.Future[int]] = deque()
        self._tokens = itertools.count()

    @property
    def cap(self) -> int:
        """Requests currently allowed in flight."""
        return max(1, int(self._cap))

    @property
    def in_flight(self) -> int:
        """Requests on the wire now."""
        return len(self._in_flight)

    def _admissible(self) -> bool:
        if not self._in_flight:
            return True
        if len(self._in_flight) >= self.cap:
            return False
        oldest = min(self._in_flight.values())
        return self._monotonic() - oldest < self.window_seconds * WINDOW_SAFETY

    async def acquire(self) -> int:
        """Wait for a slot (first come, first served); return its token.

        A waiter is not woken to look for itself: whoever frees a slot grants it to the first
        waiter and hands the token over in the waiter's future (one wake per granted slot, no
        re-checks, nothing allocated while waiting).
        """
        if not self._waiters and self._admissible():
            return self._grant()
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except BaseException:
            if waiter.cancelled():
                if waiter in self._waiters:  # rare path: cancelled while still queued
                    self._waiters.remove(waiter)
                self._hand_off()  # it may have been first in line
            elif waiter.done():
                # Granted, then cancelled before it could run: the slot goes to the next waiter.
                self.release(waiter.result())
            raise

    def release(self, token: int, outcome: Outcome = Outcome.FAILED) -> None:
        """Free the slot of ``token``, adapt the cap to the ``outcome``, hand the slot on."""
        self._in_flight.pop(token, None)
        if outcome is Outcome.NONCE_REJECTED:
            self._cap = max(1.0, self._cap / 2)
        elif outcome is Outcome.SUCCEEDED and self._cap < self.max_in_flight:
            self._cap = min(float(self.max_in_flight), self._cap + 1 / self._cap)
        self._hand_off()

    def _grant(self) -> int:
        token = next(self._tokens)
        self._in_flight[token] = self._monotonic()
        return token

    def _hand_off(self) -> None:
        """Grant free slots to the first waiters, in order (cancelled ones are skipped)."""
        waiters = self._waiters
        while waiters and self._admissible():
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(self._grant())

    def __repr__(self) -> str:
        return (
            f"LocalGate(window_seconds={self.window_seconds}, cap={self.cap}, "
            f"in_flight={self.in_flight}, waiting={len(self._waiters)})"
        )


_local_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, LocalGate]] = (
    weakref.WeakKeyDictionary()
)


def shared_local_gate(api_key: str, *, window_seconds: float, max_in_flight: int) -> LocalGate:
    """The in-process gate for ``api_key`` on the running loop, created on first use.

    Raises
    ------
    ValueError
        If the key already has a gate with another window.
    """
    per_loop = _local_gates.setdefault(asyncio.get_running_loop(), {})
    gate = per_loop.get(api_key)
    if gate is None:
        gate = per_loop[api_key] = LocalGate(
            window_seconds=window_seconds, max_in_flight=max_in_flight
        )
    elif gate.window_seconds != window_seconds:
        raise ValueError(
            f"nonce_window conflicts with another client on this API key "
            f"({window_seconds}s vs {gate.window_seconds}s)"
        )
    return gate

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

A request that was sent and then abandoned without an answer (client timeout, cancellation)
may still reach Kraken. Its slot is not freed at once: it stays in flight until the request's
exchange, watched in the background (``watch.py``), ends, or for a *hold* from the key's latency
estimate when it cannot be watched (``LatencyEstimate.hold <.watch.LatencyEstimate.hold>()``),
so with a window of 0 the key's next request waits and with a window the abandoned request still
counts for admission. The
gate is shared per key by reference count: the last client to close releases it (pending holds
carry over to the key's next gate on the loop), so a later client may choose another window.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from .._error_map import unanswered
from ..errors import InvalidNonceError
from .refusals import NonceRefusals
from .watch import LatencyEstimate

#: Fraction of the window a request may be in flight before new ones wait for it.
WINDOW_SAFETY: Final = 0.5


class Outcome(enum.Enum):
    """How an attempt ended, as far as the key's gates care (handed to every release).

    Derived from the exception the attempt ended with (``outcome_of()``), so a new kind of end
    (e.g. a request abandoned after it was sent) is one member here and one rule there.
    """

    #: Kraken answered and accepted the request: the adaptive cap may grow.
    SUCCEEDED = "succeeded"
    #: ``EAPI:Invalid nonce``: the cap halves.
    NONCE_REJECTED = "nonce_rejected"
    #: Any other end: an error answer, or nothing sent.
    FAILED = "failed"
    #: Sent, then no answer (timeout, cancellation, connection lost, a gateway's error page): it
    #: may still reach Kraken, so its slot is held (until its watched exchange ends, or a hold).
    ABANDONED = "abandoned"


def outcome_of(exc: BaseException | None, *, sent: bool = False) -> Outcome:
    """The ``Outcome`` of an attempt that ended with ``exc`` (``None``: it succeeded).

    ``sent``: the request was handed to the transport (it may have left).
    """
    if exc is None:
        return Outcome.SUCCEEDED
    if isinstance(exc, InvalidNonceError):
        return Outcome.NONCE_REJECTED
    if sent and unanswered(exc):
        return Outcome.ABANDONED
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
    clock : callable, optional
        Clock of the key's invalid-nonce refusals (``NonceRefusals``).
    """

    def __init__(
        self,
        *,
        window_seconds: float,
        max_in_flight: int,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.window_seconds = window_seconds
        self.max_in_flight = 1 if window_seconds <= 0 else max_in_flight
        self._cap = float(self.max_in_flight)
        self._monotonic = monotonic
        self._in_flight: dict[int, float] = {}
        self._waiters: deque[asyncio.Future[int]] = deque()
        self._tokens = itertools.count()
        self._holds: dict[int, tuple[float, asyncio.TimerHandle]] = {}
        #: The key's answer times: the hold of an abandoned request that cannot be watched.
        self.latency = LatencyEstimate(monotonic)
        self.refusals = NonceRefusals(clock)

    @property
    def cap(self) -> int:
        """Requests currently allowed in flight."""
        return max(1, int(self._cap))

    @property
    def held(self) -> int:
        """Abandoned requests whose hold has not expired yet."""
        return len(self._holds)

    def observe(self, latency: float) -> None:
        """An answer came back ``latency`` seconds after its request was sent."""
        self.latency.observe(latency)

    @property
    def in_flight(self) -> int:
        """Requests on the wire now."""
        return len(self._in_flight)

    def _admissible(self) -> bool:
        if not self._in_flight:
            return True
        if len(self._in_flight) >= self.cap:
            return False
        if self.refusals.suspect and len(self._in_flight) + self.refusals.recent() >= (
            self.refusals.limit
        ):
            return False  # every request out could be one more refusal
        # Tokens are granted in order and keep their grant time (a hold re-enters its own), so
        # the first entry is the oldest: no pass over every request in flight per admission.
        oldest = next(iter(self._in_flight.values()))
        return self._monotonic() - oldest < self.window_seconds * WINDOW_SAFETY

    def try_acquire(self) -> int | None:
        """A slot's token now if one is free and nobody is queued, else ``None`` (then
        [`acquire()`][kraken_prime_async.FleetGate.acquire]): the uncontended case without a
        coroutine."""
        if not self._waiters and self._admissible():
            return self._grant()
        return None

    async def acquire(self) -> int:
        """Wait for a slot (first come, first served); return its token.

        A waiter is not woken to look for itself: whoever frees a slot grants it to the first
        waiter and hands the token over in the waiter's future (one wake per granted slot, no
        re-checks, nothing allocated while waiting).
        """
        token = self.try_acquire()
        if token is not None:
            return token
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

    def release(
        self,
        token: int,
        outcome: Outcome = Outcome.FAILED,
        hold: float = 0.0,
        until: asyncio.Future[Any] | None = None,
    ) -> None:
        """Free the slot of ``token``, adapt the cap to the attempt's ``outcome``, hand the slot
        on to the next waiter.

        An ``ABANDONED`` attempt's slot stays taken for ``hold`` seconds (a loop timer frees it),
        or less when ``until`` (its watched exchange) ends first.
        """
        if outcome is Outcome.ABANDONED and hold > 0 and token in self._in_flight:
            self._hold(token, self._in_flight[token], hold)
            if until is not None:
                until.add_done_callback(lambda _: self._expire(token))
            return
        self._in_flight.pop(token, None)
        if outcome is Outcome.NONCE_REJECTED:
            self._cap = max(1.0, self._cap / 2)
            self.refusals.record()
        elif outcome is Outcome.SUCCEEDED and self._cap < self.max_in_flight:
            self._cap = min(float(self.max_in_flight), self._cap + 1 / self._cap)
        self._hand_off()

    def _hold(self, token: int, granted: float, seconds: float) -> None:
        self._in_flight[token] = granted
        handle = asyncio.get_running_loop().call_later(seconds, self._expire, token)
        self._holds[token] = (self._monotonic() + seconds, handle)

    def _expire(self, token: int) -> None:
        held = self._holds.pop(token, None)
        if held is None:
            return  # expired already (or carried over to the key's next gate)
        held[1].cancel()
        self._in_flight.pop(token, None)
        self._hand_off()

    def close(self) -> list[tuple[float, float]]:
        """Cancel the hold timers; return the pending holds as ``(granted, until)`` (monotonic)
        for ``adopt()`` on the key's next gate."""
        pending = []
        for token, (until, handle) in self._holds.items():
            handle.cancel()
            pending.append((self._in_flight.pop(token, until), until))
        self._holds.clear()
        return pending

    def adopt(self, holds: list[tuple[float, float]]) -> None:
        """Take over holds a closed gate of the same key left pending."""
        now = self._monotonic()
        for granted, until in sorted(holds):  # in grant order: the oldest stays first
            if until > now:
                self._hold(next(self._tokens), granted, until - now)

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
            f"in_flight={self.in_flight}, held={self.held}, waiting={len(self._waiters)})"
        )


class _Shared:
    """A key's gate on one loop and how many clients use it."""

    __slots__ = ("gate", "users")

    def __init__(self, gate: LocalGate) -> None:
        self.gate = gate
        self.users = 0


_local_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Shared]] = (
    weakref.WeakKeyDictionary()
)
#: Holds left pending when a key's last client closed, per loop and key.
_pending_holds: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, list[tuple[float, float]]]
] = weakref.WeakKeyDictionary()


def shared_local_gate(
    api_key: str,
    *,
    window_seconds: float,
    max_in_flight: int,
    clock: Callable[[], float] = time.time,
) -> LocalGate:
    """The in-process gate for ``api_key`` on the running loop, created on first use; each call
    is one more user, until ``release_local_gate()``.

    Raises
    ------
    ValueError
        If the key's gate is in use with another window.
    """
    loop = asyncio.get_running_loop()
    per_loop = _local_gates.setdefault(loop, {})
    shared = per_loop.get(api_key)
    if shared is None:
        gate = LocalGate(window_seconds=window_seconds, max_in_flight=max_in_flight, clock=clock)
        gate.adopt(_pending_holds.get(loop, {}).pop(api_key, []))
        shared = per_loop[api_key] = _Shared(gate)
    elif shared.gate.window_seconds != window_seconds:
        raise ValueError(
            f"nonce_window conflicts with another open client on this API key "
            f"({window_seconds}s vs {shared.gate.window_seconds}s)"
        )
    shared.users += 1
    return shared.gate


def release_local_gate(api_key: str, gate: LocalGate, loop: asyncio.AbstractEventLoop) -> None:
    """One user of ``gate`` is done (its client closed); the last one removes it."""
    per_loop = _local_gates.get(loop, {})
    shared = per_loop.get(api_key)
    if shared is None or shared.gate is not gate:
        return
    shared.users -= 1
    if shared.users <= 0:
        del per_loop[api_key]
        pending = gate.close()
        if pending:
            _pending_holds.setdefault(loop, {}).setdefault(api_key, []).extend(pending)

"""The per-key gate: what every attempt of one API key passes through, in one place.

One attempt runs inside ``async with gate.slot(cost, lease_seconds):``. The slot composes, in
this order:

1. the key's **in-process gate** (``_local_gate.LocalGate``): how many requests of the key may be on
   the wire at once in this process, FIFO;
2. the key's **fleet gate** (:class:`~kraken_prime_async.FleetGate`, with a ``fleet=``): the
   same rule across processes and hosts;
3. the key's **call counter** (``_rate_limit``): pacing at send time, inside the slot, so a call
   that queued before Kraken's first refusal is held back too.

The nonce is taken after the slot is granted (by the auth strategy, inside the attempt) and the
slot is released when the attempt ends, with its :class:`Outcome`. "Gate" is the one name of the
per-key in-flight limiter, in-process and fleet-wide. Clients without an API key
(``FastApiKeyClient``: bearer auth, no nonce) get :data:`NO_GATE`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from types import TracebackType
from typing import TYPE_CHECKING, Final

from ._constants import DEFAULT_TIMEOUT, FLEET_LEASE_MARGIN, LOGGER_NAME
from ._local_gate import LocalGate, Outcome, outcome_of, shared_local_gate
from ._rate_limit import RateCounter, RateLimitSetting, resolve, shared_counter
from ._secret import Credential
from .errors import CoordinationError, RateLimitError, ValidationError

if TYPE_CHECKING:
    from ._fleet import Fleet, FleetGate

logger = logging.getLogger(LOGGER_NAME)


class _Parts:
    """A key's gates on one event loop."""

    __slots__ = ("counter", "fleet_gate", "local", "loop")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        local: LocalGate,
        fleet_gate: FleetGate | None,
        counter: RateCounter | None,
    ) -> None:
        self.loop = loop
        self.local = local
        self.fleet_gate = fleet_gate
        self.counter = counter


class KeyGate:
    """Every gate of one API key, for one client: ``async with gate.slot(cost, timeout):``.

    Parameters
    ----------
    api_key : Credential
        The key (wrapped): a ``fleet`` names its shared state after it.
    ref : str
        The key's reference (a SHA-256 fingerprint): the in-process gate and call counter are
        shared by every client with the same reference.
    window_seconds : float
        The key's nonce window in seconds (0: one request of the key on the wire at a time).
    max_in_flight : int
        Upper bound of requests in flight when ``window_seconds > 0``.
    rate_limit : RateLimitSetting
        The call-counter setting (see ``PrimeClient``).
    fleet : Fleet or None
        With a fleet, its gate orders the key's requests across processes too and its counter
        replaces the process's.
    clock, sleep : callables
        The client's injected clock and sleep.
    """

    def __init__(
        self,
        api_key: Credential,
        *,
        ref: str,
        window_seconds: float,
        max_in_flight: int,
        rate_limit: RateLimitSetting,
        fleet: Fleet | None,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._key = api_key
        self.ref = ref
        self.window_seconds = window_seconds
        self.max_in_flight = max_in_flight
        self._rate_limit = rate_limit
        self._fleet = fleet
        self._clock = clock
        self.sleep = sleep
        self._parts: _Parts | None = None

    @property
    def paced(self) -> bool:
        """Whether the call counter paces this key now (rate-limit backoff is then left to it)."""
        parts = self._parts
        return parts is not None and parts.counter is not None and parts.counter.active

    def slot(self, cost: float, timeout: float | None) -> Slot:
        """One attempt's slot: ``async with gate.slot(endpoint.cost, timeout.total):``.

        ``timeout`` (the attempt's total budget in seconds) bounds the fleet slot's lease.
        """
        return Slot(self, cost, (timeout or DEFAULT_TIMEOUT) + FLEET_LEASE_MARGIN)

    def parts(self) -> _Parts:
        """This key's gates on the running loop (built on first use per loop)."""
        loop = asyncio.get_running_loop()
        parts = self._parts
        if parts is None or parts.loop is not loop:
            parts = self._parts = self._build(loop)
        return parts

    def _build(self, loop: asyncio.AbstractEventLoop) -> _Parts:
        try:
            local = shared_local_gate(
                self.ref, window_seconds=self.window_seconds, max_in_flight=self.max_in_flight
            )
        except ValueError as exc:
            problem: str | None = str(exc)
        else:
            problem = None
        if problem is not None:  # raised outside the except: no chained context
            raise ValidationError("nonce_window", problem)
        fleet = self._fleet
        if fleet is None:
            own = shared_counter(self.ref, self._rate_limit, self._clock)
            return _Parts(loop, local, None, own)
        fleet_gate = fleet.gate(
            str(self._key.reveal()),
            window_seconds=self.window_seconds,
            max_in_flight=self.max_in_flight,
        )
        limits, auto = resolve(self._rate_limit)
        counter: RateCounter | None = (
            None
            if limits is None and not auto
            else fleet.counter(str(self._key.reveal()), limits, auto=auto, clock=self._clock)
        )
        return _Parts(loop, local, fleet_gate, counter)

    def __repr__(self) -> str:
        return f"KeyGate(window_seconds={self.window_seconds}, max_in_flight={self.max_in_flight})"


class Slot:
    """One attempt's hold on its key: acquire (in-process gate → fleet gate → pacing) on
    ``async with`` entry, release with the attempt's :class:`Outcome` on exit.

    ``waited`` is the pacing wait (seconds) the entry took."""

    __slots__ = ("_cost", "_fleet_token", "_gate", "_lease", "_parts", "_token", "waited")

    def __init__(self, gate: KeyGate, cost: float, lease_seconds: float) -> None:
        self._gate = gate
        self._cost = cost
        self._lease = lease_seconds
        self._parts: _Parts | None = None
        self._token = -1
        self._fleet_token: Hashable | None = None
        self.waited = 0.0

    async def __aenter__(self) -> Slot:
        parts = self._parts = self._gate.parts()
        self._token = await parts.local.acquire()
        try:
            if parts.fleet_gate is not None:
                # The fleet-wide slot, taken before the nonce like the process's own.
                self._fleet_token = await parts.fleet_gate.acquire(self._lease)
            if parts.counter is not None:
                # Paced at send time, inside the key's slot.
                self.waited = await parts.counter.acquire(self._cost, self._gate.sleep)
        except BaseException:
            await self._release(parts, Outcome.FAILED)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        parts = self._parts
        assert parts is not None
        if exc is None and parts.fleet_gate is None:  # the common case: nothing to await
            parts.local.release(self._token, Outcome.SUCCEEDED)
            return
        try:
            if isinstance(exc, RateLimitError) and parts.counter is not None:
                await _tell_refused(parts.counter, exc, self._cost)
        finally:
            await self._release(parts, outcome_of(exc))

    async def _release(self, parts: _Parts, outcome: Outcome) -> None:
        try:
            if parts.fleet_gate is not None and self._fleet_token is not None:
                await _release_fleet_slot(parts.fleet_gate, self._fleet_token)
        finally:
            parts.local.release(self._token, outcome)


class NoGate:
    """The gate of a client without an API key (bearer auth: no nonce, no call counter)."""

    paced = False
    waited = 0.0

    def slot(self, cost: float, timeout: float | None) -> NoGate:
        """A slot that waits for nothing."""
        return self

    async def __aenter__(self) -> NoGate:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


#: The gate of every client that has no API key.
NO_GATE: Final = NoGate()


async def _tell_refused(counter: RateCounter, exc: RateLimitError, cost: float) -> None:
    try:
        await counter.refused(exc.retry_at, cost)
    except CoordinationError as failure:
        # The refusal is what the caller needs to see; the next call reports the store.
        logger.warning("could not record a rate-limit refusal: %s", failure)


async def _release_fleet_slot(gate: FleetGate, token: Hashable) -> None:
    try:
        await gate.release(token)
    except CoordinationError as failure:
        # The answer is in hand and must not be lost; the slot's lease frees it later.
        logger.warning("could not free the fleet slot: %s", failure)

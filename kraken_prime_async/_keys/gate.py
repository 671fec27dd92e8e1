"""The per-key gate: what every attempt of one API key passes through, in one place.

One attempt runs inside ``async with gate.slot(cost, lease_seconds):``. The slot composes, in
this order:

1. the key's **in-process gate** (``_local_gate.LocalGate``): how many requests of the key may be on
   the wire at once in this process, FIFO;
2. the key's **fleet gate** ([`FleetGate`][kraken_prime_async.FleetGate], with a ``fleet=``): the
   same rule across processes and hosts;
3. the key's **call counter** (``_rate_limit``): pacing at send time, inside the slot, so a call
   that queued before Kraken's first refusal is held back too.

The nonce is taken after the slot is granted (by the auth strategy, inside the attempt) and the
slot is released when the attempt ends, with its ``Outcome``: a request that was sent and
then abandoned without an answer keeps its in-process and fleet slots until the transport, which
watches it in the background (``watch.py``), sees it end, or for a hold when it cannot. A key
resting after repeated invalid nonces (``_nonce_guard``) refuses the slot at once, and no wait
for pacing or a ``Throttled`` hold may exceed the call's ``max_throttle_wait``. "Gate" is the one
name of the per-key in-flight limiter, in-process and fleet-wide. Clients without an API key
(``FastApiKeyClient``: bearer auth, no nonce) get ``NO_GATE``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Hashable
from types import TracebackType
from typing import TYPE_CHECKING, Final

from .._constants import ABANDON_HOLD_MAX, DEFAULT_TIMEOUT, FLEET_LEASE_MARGIN, LOGGER_NAME
from .._retry import throttle_too_long
from .._secret import Credential
from ..errors import APIError, CoordinationError, RateLimitError, ValidationError
from . import watch
from .fleet._base import RenewableGate, Renewal
from .local import (
    LocalGate,
    Outcome,
    outcome_of,
    release_local_gate,
    shared_local_gate,
)
from .pacing import (
    CallCounter,
    RateCounter,
    RateLimitSetting,
    release_counter,
    resolve,
    shared_counter,
)

if TYPE_CHECKING:
    from .fleet import Fleet, FleetGate

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
    abandon_hold : float or None
        At most this many seconds an abandoned request's slot stays taken (``0``: not at all,
        and it is not watched); ``None``: until its watched exchange ends (at most
        ``ABANDON_HOLD_MAX``), or the key's latency estimate when it cannot be watched.
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
        abandon_hold: float | None = None,
    ) -> None:
        self._key = api_key
        self.ref = ref
        self.abandon_hold = abandon_hold
        self.window_seconds = window_seconds
        self.max_in_flight = max_in_flight
        self._rate_limit = rate_limit
        self._fleet = fleet
        self.clock = clock
        self.sleep = sleep
        self._parts: _Parts | None = None

    @property
    def paced(self) -> bool:
        """Whether the call counter paces this key now (rate-limit backoff is then left to it)."""
        parts = self._parts
        return parts is not None and parts.counter is not None and parts.counter.active

    def pacing_reason(self) -> str:
        """Why the key's calls wait for its rate limit now, and the fix (for a WARNING)."""
        parts = self._parts
        counter = None if parts is None else parts.counter
        describe = getattr(counter, "describe", None)
        if callable(describe):
            return str(describe())
        return (
            "Kraken refused calls for rate and they were retried after a backoff; a faster "
            "tier on the key, or several keys, makes them faster"
        )

    def slot(
        self,
        cost: float,
        timeout: float | None,
        *,
        operation: str = "",
        max_wait: float = math.inf,
    ) -> Slot:
        """One attempt's slot: ``async with gate.slot(endpoint.cost, timeout.total):``.

        ``timeout`` (the attempt's total budget in seconds) bounds the fleet slot's lease;
        ``max_wait`` bounds any wait for pacing or a ``Throttled`` hold (else
        [`RateLimitError`][kraken_prime_async.RateLimitError]); ``operation`` names the call in
        errors.
        """
        lease = (timeout or DEFAULT_TIMEOUT) + FLEET_LEASE_MARGIN
        return Slot(self, cost, lease, operation, max_wait)

    def close(self) -> None:
        """The client closed: release this client's share of the key's in-process gate and
        counter (the last client's release frees them, so a later client may choose others)."""
        parts, self._parts = self._parts, None
        if parts is not None:
            _release_parts(self.ref, parts)

    def parts(self) -> _Parts:
        """This key's gates on the running loop (built on first use per loop)."""
        loop = asyncio.get_running_loop()
        parts = self._parts
        if parts is None or parts.loop is not loop:
            if parts is not None:
                _release_parts(self.ref, parts)
                self._parts = None
            parts = self._parts = self._build(loop)
        return parts

    def _build(self, loop: asyncio.AbstractEventLoop) -> _Parts:
        try:
            local = shared_local_gate(
                self.ref,
                window_seconds=self.window_seconds,
                max_in_flight=self.max_in_flight,
                clock=self.clock,
            )
        except ValueError as exc:
            problem: str | None = str(exc)
        else:
            problem = None
        if problem is not None:  # raised outside the except: no chained context
            raise ValidationError("nonce_window", problem)
        fleet = self._fleet
        if fleet is None:
            own = shared_counter(self.ref, self._rate_limit, self.clock)
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
            else fleet.counter(str(self._key.reveal()), limits, auto=auto, clock=self.clock)
        )
        return _Parts(loop, local, fleet_gate, counter)

    def __repr__(self) -> str:
        return f"KeyGate(window_seconds={self.window_seconds}, max_in_flight={self.max_in_flight})"


class Slot:
    """One attempt's hold on its key: acquire (in-process gate → fleet gate → pacing) on
    ``async with`` entry, release with the attempt's ``Outcome`` on exit.

    ``waited`` is the pacing wait (seconds) the entry took, ``queued`` the time it queued for the
    key's slot behind calls while the key was paced. The pipeline calls ``sending()``
    just before the request goes to the transport: from then on, an end without an answer is an
    abandoned request whose slot is held. The transport hands the slot the exchange it stopped
    waiting for (``watch()``), or says the connection ended (``ended()``): a
    ``Watcher``."""

    __slots__ = (
        "_cost",
        "_ended",
        "_fleet_token",
        "_gate",
        "_lease",
        "_max_wait",
        "_operation",
        "_parts",
        "_renewal",
        "_sent_at",
        "_token",
        "queued",
        "waited",
        "watched",
    )

    def __init__(
        self, gate: KeyGate, cost: float, lease_seconds: float, operation: str, max_wait: float
    ) -> None:
        self._gate = gate
        self._cost = cost
        self._lease = lease_seconds
        self._operation = operation
        self._max_wait = max_wait
        self._parts: _Parts | None = None
        self._token = -1
        self._fleet_token: Hashable | None = None
        self._renewal: Renewal | None = None
        self._sent_at = 0.0
        self._ended = False
        self.waited = 0.0
        #: Seconds queued for the key's slot behind paced calls (the key was paced then).
        self.queued = 0.0
        #: The abandoned request's exchange, which the transport watches to its end.
        self.watched: asyncio.Future[object] | None = None

    def sending(self) -> None:
        """The request is handed to the transport now (it may leave)."""
        self._sent_at = time.monotonic()
        watch.sending(self)

    def can_watch(self) -> bool:
        """Whether ``watch()`` would keep the slot."""
        return self._gate.abandon_hold != 0 and self._parts is not None and self.watched is None

    def watch(self, exchange: asyncio.Future[object]) -> bool:
        """Keep the slot until ``exchange`` ends (see ``.watch``); ``False`` when the hold
        is off (``abandon_hold=0``) or the slot is released already."""
        if not self.can_watch():
            return False
        self.watched = exchange
        return True

    def ended(self) -> None:
        """The connection ended after sending: nothing more of this request can arrive."""
        self._ended = True

    async def __aenter__(self) -> Slot:
        parts = self._parts = self._gate.parts()
        local, counter = parts.local, parts.counter
        local.refusals.check(self._operation)  # a resting key fails before queueing
        token = local.try_acquire()
        paced = counter is not None and counter.active
        if token is not None and parts.fleet_gate is None and not paced:
            self._token = token  # the common case: a free slot, nothing to wait for
            return self
        queued_at = self._gate.clock()
        self._token = await local.acquire() if token is None else token
        if paced and token is None:  # queued behind the key's paced calls: pacing's doing too
            self.queued = self._gate.clock() - queued_at
        try:
            if token is None:
                local.refusals.check(self._operation)  # refusals may have come while queued
            if parts.fleet_gate is not None:
                # The fleet-wide slot, taken before the nonce like the process's own.
                await self._take_fleet_slot(parts.fleet_gate, local)
            if counter is not None:
                # Paced at send time, inside the key's slot.
                self.waited = await counter.acquire(self._cost, self._bounded_sleep)
        except BaseException:
            await self._release(parts, Outcome.FAILED)
            raise
        return self

    async def _take_fleet_slot(self, gate: FleetGate, local: LocalGate) -> None:
        """The fleet slot. A renewable one carries a short lease, renewed while this member
        lives: a member that dies holding it blocks it for about the key's hold, not for the
        attempt's whole timeout."""
        if not isinstance(gate, RenewableGate):
            self._fleet_token = await gate.acquire(self._lease)
            return
        setting = self._gate.abandon_hold
        lease = max(FLEET_LEASE_MARGIN, local.latency.hold(setting or None))
        token = self._fleet_token = await gate.acquire(lease)
        self._renewal = Renewal(gate, token, lease)

    async def _bounded_sleep(self, delay: float) -> None:
        if delay > self._max_wait:
            now = self._gate.clock()
            raise throttle_too_long(self._operation, now + delay, now, self._max_wait)
        await self._gate.sleep(delay)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        parts = self._parts
        assert parts is not None
        sent_at = self._sent_at
        if exc is None and parts.fleet_gate is None:  # the common case: nothing to await
            if sent_at:
                parts.local.observe(time.monotonic() - sent_at)
            parts.local.release(self._token, Outcome.SUCCEEDED)
            return
        outcome = outcome_of(exc, sent=sent_at > 0 and not self._ended)
        if sent_at and (exc is None or isinstance(exc, APIError)):
            parts.local.observe(time.monotonic() - sent_at)
        try:
            if isinstance(exc, RateLimitError) and parts.counter is not None:
                await _tell_refused(parts.counter, exc, self._cost)
        finally:
            await self._release(parts, outcome)

    async def _release(self, parts: _Parts, outcome: Outcome) -> None:
        hold, until = 0.0, None
        if outcome is Outcome.ABANDONED:
            hold, until = self._hold(parts.local)
        if self._renewal is not None:
            self._renewal.stop()
        try:
            if parts.fleet_gate is not None and self._fleet_token is not None:
                await _release_fleet_slot(parts.fleet_gate, self._fleet_token, hold)
                if until is not None:
                    _end_fleet_hold_with(until, parts.fleet_gate, self._fleet_token)
        finally:
            parts.local.release(self._token, outcome, hold, until)
            self._parts = None

    def _hold(self, local: LocalGate) -> tuple[float, asyncio.Future[object] | None]:
        """How long an abandoned request keeps the slot: until its watched exchange ends (at
        most the fixed hold, or ``ABANDON_HOLD_MAX``), else the hold (fixed, or estimated)."""
        setting = self._gate.abandon_hold
        watched = self.watched
        if watched is not None:
            if watched.done():
                return 0.0, None  # it ended while the caller was leaving
            return (ABANDON_HOLD_MAX if setting is None else setting), watched
        return local.latency.hold(setting), None


class NoGate:
    """The gate of a client without an API key (bearer auth: no nonce, no call counter)."""

    paced = False
    waited = 0.0
    queued = 0.0

    def pacing_reason(self) -> str:
        """Why calls waited: only backoff after refusals (no call counter is modelled)."""
        return "Kraken refused calls for rate and they were retried after a backoff"

    def slot(
        self,
        cost: float,
        timeout: float | None,
        *,
        operation: str = "",
        max_wait: float = math.inf,
    ) -> NoGate:
        """A slot that waits for nothing."""
        return self

    def sending(self) -> None:
        """No key, no nonce to overtake: nothing to watch (an earlier attempt's slot in this
        task's context is no longer this request's)."""
        watch.sending(None)

    def close(self) -> None:
        """Nothing shared to release."""

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


def _release_parts(ref: str, parts: _Parts) -> None:
    release_local_gate(ref, parts.local, parts.loop)
    if isinstance(parts.counter, CallCounter):
        release_counter(ref, parts.counter, parts.loop)


async def _tell_refused(counter: RateCounter, exc: RateLimitError, cost: float) -> None:
    try:
        await counter.refused(exc.retry_at, cost)
    except CoordinationError as failure:
        # The refusal is what the caller needs to see; the next call reports the store.
        logger.warning("could not record a rate-limit refusal: %s", failure)


#: Fleet slots whose hold ends with a watched exchange: the tasks that free them.
_ending: set[asyncio.Task[None]] = set()


def _end_fleet_hold_with(
    exchange: asyncio.Future[object], gate: FleetGate, token: Hashable
) -> None:
    """Free the held fleet slot ``token`` for good when ``exchange`` ends (a second release of
    a token ends its hold: see ``FleetGate``)."""

    def end(_: asyncio.Future[object]) -> None:
        task = asyncio.ensure_future(_release_fleet_slot(gate, token, 0.0))
        _ending.add(task)
        task.add_done_callback(_ending.discard)

    exchange.add_done_callback(end)


async def _release_fleet_slot(gate: FleetGate, token: Hashable, hold: float) -> None:
    try:
        await (gate.release(token, hold) if hold > 0 else gate.release(token))
    except CoordinationError as failure:
        # The answer is in hand and must not be lost; the slot's lease frees it later.
        logger.warning("could not free the fleet slot: %s", failure)
